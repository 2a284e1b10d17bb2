package dev.idempotency.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.spi.Acquisition.Acquired;
import dev.idempotency.spi.Acquisition.Completed;
import dev.idempotency.spi.Acquisition.InFlight;
import dev.idempotency.spi.Acquisition.Mismatch;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The behaviour every {@link IdempotencyStore} must show (SPEC §5, §6, §8). A store's test
 * extends this and supplies two instances on one backend — as two JVMs would have — through
 * {@link #store()} and {@link #secondStore()}, against a real server.
 *
 * <p>Stores judged by a server's clock are tested with short real lock timeouts and bounded
 * waits; a store driven by an injected clock overrides {@link #advance(Duration)}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class IdempotencyStoreContract {

  protected static final Duration LONG = Duration.ofSeconds(30);
  protected static final Duration RETENTION = Duration.ofHours(1);
  protected static final Duration SHORT = Duration.ofMillis(300);

  private ExecutorService pool;

  /** The store under test. The same instance for the whole class. */
  protected abstract IdempotencyStore store();

  /** A second, separate instance on the same backend (own connections), as another JVM. */
  protected abstract IdempotencyStore secondStore();

  /** Moves the store's clock forward; real-clock stores leave this alone and time passes. */
  protected void advance(Duration duration) {}

  @BeforeAll
  void startPool() {
    pool = Executors.newFixedThreadPool(32);
  }

  @AfterAll
  void stopPool() {
    pool.shutdownNow();
  }

  protected static String key() {
    return "contract:" + UUID.randomUUID();
  }

  protected static StoredResponse response(int status, String body) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    headers.put("Content-Type", List.of("application/json"));
    headers.put("X-Multi", List.of("one", "two"));
    return new StoredResponse(status, headers, body.getBytes(StandardCharsets.UTF_8));
  }

  private long acquireNew(IdempotencyStore s, String key, String hash, Duration lock) {
    Acquisition a = s.acquire(key, hash, lock, RETENTION);
    assertThat(a).isInstanceOf(Acquired.class);
    return ((Acquired) a).token();
  }

  /** Waits, bounded, until {@code key} can be acquired again after its lock or record expired. */
  private Acquired eventuallyAcquired(IdempotencyStore s, String key, String hash) {
    advance(SHORT.plusMillis(1));
    Acquisition[] last = new Acquisition[1];
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> (last[0] = s.acquire(key, hash, LONG, RETENTION)) instanceof Acquired);
    return (Acquired) last[0];
  }

  @Test
  void acquiresAnUnknownKey() {
    Acquisition a = store().acquire(key(), "h1", LONG, RETENTION);
    assertThat(a).isInstanceOf(Acquired.class);
    assertThat(((Acquired) a).recovered()).isFalse();
  }

  @Test
  void secondAcquireSeesLiveLockAsInFlight() {
    String key = key();
    acquireNew(store(), key, "h1", LONG);
    Acquisition second = secondStore().acquire(key, "h1", LONG, RETENTION);
    assertThat(second).isInstanceOf(InFlight.class);
    Duration left = ((InFlight) second).lockExpiresIn();
    assertThat(left).isPositive().isLessThanOrEqualTo(LONG);
  }

  @Test
  void replaysStoredResponseForSameKey() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    byte[] binary = new byte[256];
    for (int i = 0; i < binary.length; i++) {
      binary[i] = (byte) i;
    }
    Map<String, List<String>> headers = new LinkedHashMap<>();
    headers.put("Content-Type", List.of("application/octet-stream"));
    headers.put("X-Multi", List.of("one", "two: with colon"));
    StoredResponse stored = new StoredResponse(201, headers, binary);
    assertThat(store().complete(key, token, stored, RETENTION)).isTrue();

    Acquisition replay = secondStore().acquire(key, "h1", LONG, RETENTION);
    assertThat(replay).isInstanceOf(Completed.class);
    StoredResponse got = ((Completed) replay).response();
    assertThat(got.status()).isEqualTo(201);
    assertThat(got.body()).isEqualTo(binary);
    assertThat(got.headers()).isEqualTo(headers);
  }

  // A line break must not start a header of its own, nor a NUL make a store refuse the record.
  @Test
  void replaysHeaderControlCharactersAsTheSpacesAContainerSends() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    StoredResponse stored = new StoredResponse(201,
        Map.of("X-Odd", List.of("a\nX-Injected: b", "c\u0000d\re\tf")), new byte[0]);
    assertThat(store().complete(key, token, stored, RETENTION)).isTrue();
    Acquisition replay = store().acquire(key, "h1", LONG, RETENTION);
    assertThat(((Completed) replay).response().headers())
        .isEqualTo(Map.of("X-Odd", List.of("a X-Injected: b", "c d e\tf")));
  }

  @Test
  void replaysEmptyBodyWithoutHeaders() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    StoredResponse empty = new StoredResponse(204, Map.of(), new byte[0]);
    assertThat(store().complete(key, token, empty, RETENTION)).isTrue();
    Acquisition replay = store().acquire(key, "h1", LONG, RETENTION);
    assertThat(replay).isEqualTo(new Completed(empty));
  }

  @Test
  void otherRequestHashOnCompletedKeyIsMismatch() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    store().complete(key, token, response(200, "{}"), RETENTION);
    assertThat(secondStore().acquire(key, "h2", LONG, RETENTION)).isInstanceOf(Mismatch.class);
  }

  @Test
  void otherRequestHashOnInFlightKeyIsMismatch() {
    String key = key();
    acquireNew(store(), key, "h1", LONG);
    assertThat(secondStore().acquire(key, "h2", LONG, RETENTION)).isInstanceOf(Mismatch.class);
  }

  @Test
  void releaseLetsTheNextRequestExecute() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    assertThat(store().release(key, token)).isTrue();
    assertThat(secondStore().acquire(key, "h1", LONG, RETENTION)).isInstanceOf(Acquired.class);
  }

  @Test
  void wrongTokenCanNeitherCompleteNorRelease() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    assertThat(store().complete(key, token + 1, response(200, "x"), RETENTION)).isFalse();
    assertThat(store().release(key, token + 1)).isFalse();
    assertThat(store().renew(key, token + 1, LONG)).isFalse();
    assertThat(store().acquire(key, "h1", LONG, RETENTION)).isInstanceOf(InFlight.class);
  }

  @Test
  void operationsOnAnUnknownKeyChangeNothing() {
    String key = key();
    assertThat(store().complete(key, 42, response(200, "x"), RETENTION)).isFalse();
    assertThat(store().release(key, 42)).isFalse();
    assertThat(store().renew(key, 42, LONG)).isFalse();
    assertThat(store().inspect(key)).isEmpty();
    assertThat(store().purge(key)).isFalse();
  }

  @Test
  void exactlyOneOf32RacingThreadsAcquires() throws Exception {
    for (int round = 0; round < 200; round++) {
      String key = key();
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Acquisition>> results = new ArrayList<>();
      for (int t = 0; t < 32; t++) {
        IdempotencyStore s = t % 2 == 0 ? store() : secondStore();
        results.add(
            pool.submit(
                () -> {
                  start.await();
                  return s.acquire(key, "h", LONG, RETENTION);
                }));
      }
      start.countDown();
      int acquired = 0;
      for (Future<Acquisition> f : results) {
        Acquisition a = f.get(30, TimeUnit.SECONDS);
        if (a instanceof Acquired) {
          acquired++;
        } else {
          assertThat(a).isInstanceOf(InFlight.class);
        }
      }
      assertThat(acquired).as("acquisitions in round %d", round).isEqualTo(1);
    }
  }

  @Test
  void staleLockIsRecoveredWithANewToken() {
    String key = key();
    long first = acquireNew(store(), key, "h1", SHORT);
    Acquired recovered = eventuallyAcquired(secondStore(), key, "h1");
    assertThat(recovered.recovered()).isTrue();
    assertThat(recovered.token()).isNotEqualTo(first);
  }

  @Test
  void staleOwnerCannotOverwriteOrDeleteRecoveredLock() {
    String key = key();
    long stale = acquireNew(store(), key, "h1", SHORT);
    Acquired owner = eventuallyAcquired(secondStore(), key, "h1");

    assertThat(store().complete(key, stale, response(200, "stale"), RETENTION)).isFalse();
    assertThat(store().release(key, stale)).isFalse();
    assertThat(store().renew(key, stale, LONG)).isFalse();
    assertThat(store().inspect(key)).get().extracting(RecordInfo::state)
        .isEqualTo(RecordInfo.State.IN_FLIGHT);

    assertThat(secondStore().complete(key, owner.token(), response(201, "owner"), RETENTION))
        .isTrue();
    Acquisition replay = store().acquire(key, "h1", LONG, RETENTION);
    assertThat(replay).isEqualTo(new Completed(response(201, "owner")));
  }

  @Test
  void renewedLockIsNotTakenOver() {
    String key = key();
    long token = acquireNew(store(), key, "h1", Duration.ofSeconds(2));
    assertThat(store().renew(key, token, LONG)).isTrue();
    advance(Duration.ofSeconds(3));
    Acquisition other = secondStore().acquire(key, "h1", LONG, RETENTION);
    assertThat(other).isInstanceOf(InFlight.class);
    assertThat(((InFlight) other).lockExpiresIn()).isGreaterThan(Duration.ofSeconds(20));
  }

  @Test
  void completedRecordExpiresAfterItsRetention() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    assertThat(store().complete(key, token, response(200, "x"), SHORT)).isTrue();
    Acquired again = eventuallyAcquired(secondStore(), key, "h1");
    assertThat(again.recovered()).isFalse();
  }

  @Test
  void inspectShowsStateButNeverTheBody() {
    String key = key();
    long token = acquireNew(store(), key, "hash-1", LONG);
    RecordInfo inFlight = secondStore().inspect(key).orElseThrow();
    assertThat(inFlight.key()).isEqualTo(key);
    assertThat(inFlight.state()).isEqualTo(RecordInfo.State.IN_FLIGHT);
    assertThat(inFlight.requestHash()).isEqualTo("hash-1");
    assertThat(inFlight.lockAge().isNegative()).isFalse();
    assertThat(inFlight.expiresIn()).isPositive();

    store().complete(key, token, response(201, "twelve bytes"), RETENTION);
    RecordInfo done = secondStore().inspect(key).orElseThrow();
    assertThat(done.state()).isEqualTo(RecordInfo.State.COMPLETED);
    assertThat(done.status()).isEqualTo(201);
    assertThat(done.bodySize()).isEqualTo(12);
    assertThat(done.lockAge()).isNull();
    assertThat(done.expiresIn()).isPositive().isLessThanOrEqualTo(RETENTION);
  }

  @Test
  void purgeDeletesAKeySoItExecutesAgain() {
    String key = key();
    long token = acquireNew(store(), key, "h1", LONG);
    store().complete(key, token, response(200, "x"), RETENTION);
    assertThat(secondStore().purge(key)).isTrue();
    assertThat(store().inspect(key)).isEmpty();
    assertThat(store().acquire(key, "h1", LONG, RETENTION)).isInstanceOf(Acquired.class);
    assertThat(store().complete(key, token, response(200, "old"), RETENTION)).isFalse();
  }

  @Test
  void listsInFlightLocksOlderThanAnAge() {
    String key = key();
    acquireNew(store(), key, "h1", LONG);
    List<RecordInfo> all = secondStore().inFlightOlderThan(Duration.ZERO, 10_000);
    assertThat(all).extracting(RecordInfo::key).contains(key);
    List<RecordInfo> old = secondStore().inFlightOlderThan(Duration.ofHours(1), 10_000);
    assertThat(old).extracting(RecordInfo::key).doesNotContain(key);
  }

  @Test
  void watchersAreWokenWhenTheKeyCompletesOrIsReleased() throws Exception {
    String completed = key();
    long token = acquireNew(store(), completed, "h1", LONG);
    Optional<CompletableFuture<Void>> onComplete = Optional.ofNullable(secondStore().watch(completed));
    String released = key();
    long token2 = acquireNew(store(), released, "h1", LONG);
    Optional<CompletableFuture<Void>> onRelease = Optional.ofNullable(secondStore().watch(released));

    store().complete(completed, token, response(200, "x"), RETENTION);
    store().release(released, token2);
    // A store that cannot notify returns null and its waiters poll; one that can must wake them.
    if (onComplete.isPresent()) {
      onComplete.get().get(5, TimeUnit.SECONDS);
    }
    if (onRelease.isPresent()) {
      onRelease.get().get(5, TimeUnit.SECONDS);
    }
    assertThat(onComplete.isPresent()).isEqualTo(onRelease.isPresent());
  }
}
