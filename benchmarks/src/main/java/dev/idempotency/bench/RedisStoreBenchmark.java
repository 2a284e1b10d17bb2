package dev.idempotency.bench;

import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoredResponse;
import dev.idempotency.redis.StoreConnection;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The Redis store against the machine's Redis, single thread, next to its floor: a first-time
 * request (acquire + complete, two scripts) against two round trips, and a replay (one acquire
 * finding the completed record) against one. The floor runs on the store's own connection (same
 * codec, synchronous API, event-loop thread): an {@code EVALSHA} of a script that returns 1, and
 * a {@code PING}. A floor on a connection of its own measured 10–15 µs apart from the store's
 * within one run, either way, depending on which connection's thread was busier. Beside them,
 * {@link #floorTwoWrites}: the two records' writes alone, the least any Redis store does.
 *
 * <p>Redis at {@code -Dbench.redis.uri} (default {@code redis://127.0.0.1:6379}); keys under
 * {@code bench:}, first-time records kept 60 s. Run: {@code java -jar
 * benchmarks/target/benchmarks.jar RedisStoreBenchmark}. Not thread-safe: one JMH thread per
 * state.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class RedisStoreBenchmark {

  private static final Duration FIRST_TIME_RETENTION = Duration.ofSeconds(60);
  private static final Duration REPLAY_RETENTION = Duration.ofHours(1);
  private static final int REPLAY_KEYS = 1024;
  private static final String[] NO_KEYS = {};
  private static final byte[][] NO_ARGS = {};
  private static final String PREFIX = "bench:idem:";
  private static final byte[] TTL_MILLIS =
      Long.toString(FIRST_TIME_RETENTION.toMillis()).getBytes(StandardCharsets.US_ASCII);

  private final String uri = System.getProperty("bench.redis.uri", "redis://127.0.0.1:6379");

  private RedisStore store;
  private StoredResponse response;
  private String[] replayKeys;
  private int next;
  private String firstTimePrefix;
  private long firstTimeCount;
  private RedisCommands<String, byte[]> floor;
  private String trivialSha;
  private String setSha;
  private byte[] inFlightRecord;
  private byte[] completedRecord;
  private long writesCount;

  @Setup(Level.Trial)
  public void setUp() {
    store = RedisStore.builder(uri).keyPrefix(PREFIX).build();
    response = StoreRequests.response();
    replayKeys = StoreRequests.completedKeys(store, "replay:", REPLAY_KEYS, response,
        REPLAY_RETENTION);
    // One UUID per trial, not per call: UUID.randomUUID() reads SecureRandom (~1 µs here).
    firstTimePrefix = "first:" + UUID.randomUUID() + ":";
    floor = StoreConnection.of(store);
    trivialSha = floor.scriptLoad("return 1");
    setSha = floor.scriptLoad("return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])");
    // The two records a first-time request writes, as the store writes them.
    String key = firstTimePrefix + "records";
    long token = ((Acquisition.Acquired) store.acquire(key, "hash", StoreRequests.LOCK,
        FIRST_TIME_RETENTION)).token();
    inFlightRecord = floor.get(PREFIX + key);
    store.complete(key, token, response, FIRST_TIME_RETENTION);
    completedRecord = floor.get(PREFIX + key);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (String key : replayKeys) {
      store.purge(key);
    }
    store.close();
  }

  /** A first-time request: the claim, then the stored response (two scripts). */
  @Benchmark
  public boolean acquireComplete() {
    return StoreRequests.firstTime(store, firstTimePrefix + ++firstTimeCount, response,
        FIRST_TIME_RETENTION);
  }

  /** A retried request: the acquire finds the completed record and returns the response. */
  @Benchmark
  public Acquisition replay() {
    next = (next + 1) & (REPLAY_KEYS - 1);
    return store.acquire(replayKeys[next], "hash", StoreRequests.LOCK, REPLAY_RETENTION);
  }

  /** One round trip of the floor: EVALSHA of a script that returns 1. */
  @Benchmark
  public Long floorEvalsha() {
    return floor.evalsha(trivialSha, ScriptOutputType.INTEGER, NO_KEYS, NO_ARGS);
  }

  /**
   * The least any Redis store writes for a first-time request, for comparison: two round trips,
   * each an {@code EVALSHA} of a script that only {@code SET}s a record the size of the store's
   * (a new key with a TTL, then its overwrite). Not the floor, which writes nothing.
   */
  @Benchmark
  public String floorTwoWrites() {
    String[] key = {"bench:writes:" + firstTimePrefix + ++writesCount};
    floor.evalsha(setSha, ScriptOutputType.STATUS, key, inFlightRecord, TTL_MILLIS);
    return floor.evalsha(setSha, ScriptOutputType.STATUS, key, completedRecord, TTL_MILLIS);
  }

  /** One round trip of the floor: PING. */
  @Benchmark
  public String floorPing() {
    return floor.ping();
  }
}
