package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoredResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What one operation costs on the server, counted with {@code INFO commandstats}: the client
 * sends exactly one {@code EVALSHA}; everything else the server counts is a call inside that
 * script. The expected maps are exact, so any extra command the client sent would show.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RedisStoreRoundTripTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  private RedisProcess redis;
  private RedisStore store;

  @BeforeAll
  void start() {
    redis = RedisProcess.start();
    store = RedisStore.builder(redis.uri()).build();
  }

  @AfterAll
  void stop() {
    store.close();
    redis.close();
  }

  /** Commands run between two snapshots, without the INFO and CONFIG calls of the test. */
  private Map<String, Long> commandsDuring(Runnable operation) {
    Map<String, Long> before = redis.commandCalls();
    operation.run();
    Map<String, Long> after = redis.commandCalls();
    Map<String, Long> diff = new HashMap<>();
    after.forEach(
        (command, calls) -> {
          long delta = calls - before.getOrDefault(command, 0L);
          if (delta != 0 && !command.equals("info") && !command.startsWith("config")) {
            diff.put(command, delta);
          }
        });
    return diff;
  }

  @Test
  void acquireCompleteAndReplayAreOneEvalshaEach() {
    String key = UUID.randomUUID().toString();
    long[] token = new long[1];
    StoredResponse response =
        new StoredResponse(
            201,
            Map.of("Content-Type", List.of("application/json")),
            "{\"id\":1}".getBytes(StandardCharsets.UTF_8));

    Map<String, Long> acquire =
        commandsDuring(
            () ->
                token[0] =
                    ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token());
    assertThat(acquire)
        .as("a first acquire")
        .isEqualTo(Map.of("evalsha", 1L, "get", 1L, "time", 1L, "set", 1L));

    Map<String, Long> complete =
        commandsDuring(() -> assertThat(store.complete(key, token[0], response, RETENTION)).isTrue());
    assertThat(complete)
        .as("a complete nobody waits for publishes nothing")
        .isEqualTo(Map.of("evalsha", 1L, "get", 1L, "set", 1L));

    Map<String, Long> replay =
        commandsDuring(
            () ->
                assertThat(store.acquire(key, "h", LOCK, RETENTION))
                    .isEqualTo(new Acquisition.Completed(response)));
    assertThat(replay).as("a replay").isEqualTo(Map.of("evalsha", 1L, "get", 1L));
  }

  @Test
  void watchIsOneEvalshaAndACompleteOfAWatchedRecordPublishesOnce() {
    String key = UUID.randomUUID().toString();
    long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
    Map<String, Long> watch = commandsDuring(() -> store.watch(key));
    assertThat(watch)
        .as("the SET NX of a placeholder finds the record; the mark is one SETRANGE")
        .isEqualTo(Map.of("evalsha", 1L, "set", 1L, "setrange", 1L));

    Map<String, Long> complete =
        commandsDuring(
            () ->
                assertThat(
                        store.complete(
                            key, token, new StoredResponse(200, Map.of(), new byte[0]), RETENTION))
                    .isTrue());
    assertThat(complete)
        .isEqualTo(Map.of("evalsha", 1L, "get", 1L, "set", 1L, "publish", 1L));
  }

  @Test
  void inFlightAnswerIsOneEvalsha() {
    String key = UUID.randomUUID().toString();
    store.acquire(key, "h", LOCK, RETENTION);
    Map<String, Long> inFlight =
        commandsDuring(
            () ->
                assertThat(store.acquire(key, "h", LOCK, RETENTION))
                    .isInstanceOf(Acquisition.InFlight.class));
    assertThat(inFlight).isEqualTo(Map.of("evalsha", 1L, "time", 1L, "get", 1L));
  }

  @Test
  void mismatchAnswersReadWithoutWriting() {
    String inFlight = UUID.randomUUID().toString();
    store.acquire(inFlight, "h", LOCK, RETENTION);
    assertThat(
            commandsDuring(
                () ->
                    assertThat(store.acquire(inFlight, "other", LOCK, RETENTION))
                        .isEqualTo(Acquisition.MISMATCH)))
        .as("a mismatch on a key in flight")
        .isEqualTo(Map.of("evalsha", 1L, "time", 1L, "get", 1L));

    String completed = UUID.randomUUID().toString();
    long token = ((Acquisition.Acquired) store.acquire(completed, "h", LOCK, RETENTION)).token();
    store.complete(completed, token, new StoredResponse(200, Map.of(), new byte[0]), RETENTION);
    assertThat(
            commandsDuring(
                () ->
                    assertThat(store.acquire(completed, "other", LOCK, RETENTION))
                        .isEqualTo(Acquisition.MISMATCH)))
        .as("a mismatch on a completed key")
        .isEqualTo(Map.of("evalsha", 1L, "get", 1L));
  }

  @Test
  void scriptsAreSentAgainAfterTheServerForgetsThem() {
    // Its own server: the flush must not make the exact counts of the other tests include EVAL.
    try (RedisProcess flushed = RedisProcess.start();
        RedisStore store = RedisStore.builder(flushed.uri()).build()) {
      flushed.call("SCRIPT", "FLUSH");
      String key = UUID.randomUUID().toString();
      assertThat(store.acquire(key, "h", LOCK, RETENTION)).isInstanceOf(Acquisition.Acquired.class);
      assertThat(flushed.commandCalls("eval")).isEqualTo(1);

      assertThat(store.acquire(key, "h", LOCK, RETENTION)).isInstanceOf(Acquisition.InFlight.class);
      assertThat(flushed.commandCalls("eval")).as("cached again by the EVAL").isEqualTo(1);
    }
  }

  @Test
  void recordIsOneStringWithTheBodyAsRawBytesAndATtl() {
    String key = UUID.randomUUID().toString();
    long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
    byte[] body = "plain body, not base64".getBytes(StandardCharsets.US_ASCII);
    store.complete(
        key, token, new StoredResponse(200, Map.of("A", List.of("b")), body), RETENTION);

    String redisKey = RedisStore.DEFAULT_KEY_PREFIX + key;
    assertThat(redis.call("TYPE", redisKey)).isEqualTo("string");
    String record = (String) redis.call("GET", redisKey);
    assertThat(record).startsWith("-Ch\n").endsWith("\n200\n4\nA: bplain body, not base64");
    assertThat((Long) redis.call("PTTL", redisKey))
        .isPositive()
        .isLessThanOrEqualTo(RETENTION.toMillis());
  }

  @Test
  void completedRecordOfTheBenchmarksResponseTakesUnder500BytesOfRedisMemory() {
    // A 201 with two headers and a 200-byte body, under a 64-character request hash. As a hash
    // with the same fields it took 1,097 bytes (Redis 7.0): its body turned it into a hash table.
    String key = UUID.randomUUID().toString();
    String hash = "0123456789abcdef".repeat(4);
    long token = ((Acquisition.Acquired) store.acquire(key, hash, LOCK, RETENTION)).token();
    StoredResponse response =
        new StoredResponse(
            201,
            Map.of("Content-Type", List.of("application/json"), "Location", List.of("/orders/1")),
            "x".repeat(200).getBytes(StandardCharsets.US_ASCII));
    store.complete(key, token, response, RETENTION);

    assertThat((Long) redis.call("MEMORY", "USAGE", RedisStore.DEFAULT_KEY_PREFIX + key))
        .isLessThan(500);
  }

  @Test
  void replayReturnsBodyBytesAndHeaderTextAsStored() {
    // Line breaks and non-UTF-8 bytes in the body, a multi-byte character in a header: the
    // headers' length is counted in bytes on both sides.
    String key = UUID.randomUUID().toString();
    long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
    StoredResponse response =
        new StoredResponse(
            200,
            Map.of("X-Name", List.of("caf\u00e9", "two"), "X-Empty", List.of("")),
            new byte[] {'\n', 'a', (byte) 0xff, '\n', 0, (byte) 0xc3});
    store.complete(key, token, response, RETENTION);

    assertThat(store.acquire(key, "h", LOCK, RETENTION))
        .isEqualTo(new Acquisition.Completed(response));
    String empty = UUID.randomUUID().toString();
    long emptyToken = ((Acquisition.Acquired) store.acquire(empty, "h", LOCK, RETENTION)).token();
    StoredResponse noContent = new StoredResponse(204, Map.of(), new byte[0]);
    store.complete(empty, emptyToken, noContent, RETENTION);
    assertThat(store.acquire(empty, "h", LOCK, RETENTION))
        .isEqualTo(new Acquisition.Completed(noContent));
  }

  @Test
  void hashLeftByAnEarlierBuildCountsAsNoRecord() {
    // Builds before 2026-12-03 kept a record as a hash; a string command on it fails WRONGTYPE.
    String key = UUID.randomUUID().toString();
    String redisKey = RedisStore.DEFAULT_KEY_PREFIX + key;
    redis.call("HSET", redisKey, "h", "h", "t", "1", "s", "200", "b", "old");
    assertThat(store.inspect(key)).isEmpty();
    assertThat(store.release(key, 1)).isFalse();
    assertThat(store.renew(key, 1, LOCK)).isFalse();
    assertThat(store.complete(key, 1, new StoredResponse(200, Map.of(), new byte[0]), RETENTION))
        .isFalse();

    long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
    assertThat(redis.call("TYPE", redisKey)).isEqualTo("string");
    StoredResponse response = new StoredResponse(201, Map.of(), new byte[] {1});
    assertThat(store.complete(key, token, response, RETENTION)).isTrue();
    assertThat(store.acquire(key, "h", LOCK, RETENTION))
        .isEqualTo(new Acquisition.Completed(response));

    String watched = UUID.randomUUID().toString();
    redis.call("HSET", RedisStore.DEFAULT_KEY_PREFIX + watched, "h", "h");
    store.watch(watched).cancel(false);
    assertThat(redis.call("GET", RedisStore.DEFAULT_KEY_PREFIX + watched)).isEqualTo("wP");
  }

  @Test
  void requestHashWithALineBreakIsRefused() {
    assertThatThrownBy(() -> store.acquire(UUID.randomUUID().toString(), "a\nb", LOCK, RETENTION))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void claimedRecordLivesAsLongAsTheLongerOfLockAndRetention() {
    String longRetention = UUID.randomUUID().toString();
    store.acquire(longRetention, "h", LOCK, RETENTION);
    assertThat((Long) redis.call("PTTL", RedisStore.DEFAULT_KEY_PREFIX + longRetention))
        .isGreaterThan(LOCK.toMillis())
        .isLessThanOrEqualTo(RETENTION.toMillis());

    String shortRetention = UUID.randomUUID().toString();
    store.acquire(shortRetention, "h", LOCK, Duration.ofSeconds(1));
    assertThat((Long) redis.call("PTTL", RedisStore.DEFAULT_KEY_PREFIX + shortRetention))
        .as("a slow owner can still complete")
        .isGreaterThan(Duration.ofSeconds(1).toMillis())
        .isLessThanOrEqualTo(LOCK.toMillis());
  }

  @Test
  void aRetentionUnderAMillisecondStoresTheResponseForOneMillisecond() {
    // The redis+jdbc repair copies a JDBC record with what it has left, which can be < 1 ms.
    String key = UUID.randomUUID().toString();
    long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
    assertThat(store.complete(key, token, new StoredResponse(200, Map.of(), new byte[0]),
        Duration.ofNanos(400_000))).isTrue();
  }

  @Test
  void renewalKeepsTheRecordAtLeastAsLongAsTheNewLock() {
    String shortRecord = UUID.randomUUID().toString();
    Duration second = Duration.ofSeconds(1);
    long token = ((Acquisition.Acquired) store.acquire(shortRecord, "h", second, second)).token();
    assertThat(store.renew(shortRecord, token, LOCK)).isTrue();
    assertThat((Long) redis.call("PTTL", RedisStore.DEFAULT_KEY_PREFIX + shortRecord))
        .as("extended to the new lock")
        .isGreaterThan(second.toMillis())
        .isLessThanOrEqualTo(LOCK.toMillis());
    assertThat(store.inspect(shortRecord).orElseThrow().expiresIn())
        .as("the lock runs the renewal's timeout")
        .isGreaterThan(second);

    String longRecord = UUID.randomUUID().toString();
    token = ((Acquisition.Acquired) store.acquire(longRecord, "h", LOCK, RETENTION)).token();
    assertThat(store.renew(longRecord, token, LOCK)).isTrue();
    assertThat((Long) redis.call("PTTL", RedisStore.DEFAULT_KEY_PREFIX + longRecord))
        .as("the retention kept")
        .isGreaterThan(LOCK.toMillis());
  }

  @Test
  void lockIsStampedWithTheRedisServerClock() {
    // The script writes TIME's seconds and microseconds as milliseconds by string operations:
    // 300 claims meet microsecond values under 100,000 and, almost surely, under 10,000.
    for (int i = 0; i < 300; i++) {
      String key = UUID.randomUUID().toString();
      long before = serverMillis();
      long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
      long after = serverMillis();

      // {mark}L{token}\n{hash}\n{created}\n{locked}\n{lock timeout}
      String[] fields =
          ((String) redis.call("GET", RedisStore.DEFAULT_KEY_PREFIX + key)).split("\n");
      assertThat(fields[0]).isEqualTo("-L" + token);
      assertThat(fields[1]).isEqualTo("h");
      long locked = Long.parseLong(fields[3]);
      assertThat(Long.parseLong(fields[2])).as("created").isEqualTo(locked);
      assertThat(locked).isBetween(before, after);
      assertThat(fields[4]).isEqualTo(String.valueOf(LOCK.toMillis()));
      RecordInfo info = store.inspect(key).orElseThrow();
      assertThat(info.lockAge()).isLessThan(LOCK);
      assertThat(info.expiresIn()).isGreaterThan(Duration.ZERO).isLessThanOrEqualTo(LOCK);
    }
  }

  @Test
  void inFlightRecordOfAnEarlierBuildIsJudgedByTheExpiryItHolds() {
    // Earlier builds ended an in-flight record with the lock's expiry, not its timeout.
    long now = serverMillis();
    String live = UUID.randomUUID().toString();
    redis.call("SET", RedisStore.DEFAULT_KEY_PREFIX + live,
        "-L7\nh\n" + now + "\n" + now + "\n" + (now + LOCK.toMillis()), "PX", "600000");
    assertThat(store.acquire(live, "h", LOCK, RETENTION))
        .isInstanceOfSatisfying(Acquisition.InFlight.class,
            inFlight -> assertThat(inFlight.lockExpiresIn()).isGreaterThan(LOCK.dividedBy(2)));
    assertThat(store.inspect(live).orElseThrow().expiresIn()).isGreaterThan(LOCK.dividedBy(2));

    String stale = UUID.randomUUID().toString();
    long then = now - 2 * LOCK.toMillis();
    redis.call("SET", RedisStore.DEFAULT_KEY_PREFIX + stale,
        "-L7\nh\n" + then + "\n" + then + "\n" + (then + LOCK.toMillis()), "PX", "600000");
    assertThat(store.acquire(stale, "h", LOCK, RETENTION))
        .isInstanceOfSatisfying(Acquisition.Acquired.class,
            acquired -> assertThat(acquired.recovered()).isTrue());
  }

  @Test
  void keyPrefixIsConfigurable() {
    try (RedisStore prefixed = RedisStore.builder(redis.uri()).keyPrefix("other:").build()) {
      String key = UUID.randomUUID().toString();
      prefixed.acquire(key, "h", LOCK, RETENTION);
      assertThat(redis.call("EXISTS", "other:" + key)).isEqualTo(1L);
      assertThat(redis.call("EXISTS", RedisStore.DEFAULT_KEY_PREFIX + key)).isEqualTo(0L);
      assertThat(store.acquire(key, "h", LOCK, RETENTION))
          .as("stores with other prefixes do not share keys")
          .isInstanceOf(Acquisition.Acquired.class);
    }
  }

  private long serverMillis() {
    List<?> time = (List<?>) redis.call("TIME");
    return Long.parseLong((String) time.get(0)) * 1000
        + Long.parseLong((String) time.get(1)) / 1000;
  }
}
