package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import io.lettuce.core.cluster.SlotHash;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;

/**
 * A master of a 3-master, 1-replica-each Redis Cluster dies (SIGKILL) under a running {@link
 * RedisStore}: keys in its slots fail until its replica is promoted, then work again within
 * seconds, and a response completed before the kill, once on the replica, is replayed. The
 * store has Lettuce re-read the topology at most a second after a trigger; with Lettuce's
 * default (30 s between adaptive refreshes: the refresh the kill triggers at once still sees the
 * dead master, the next is allowed 30 s later) the dead master's keys failed for ~30 s and this
 * test fails.
 */
class RedisClusterFailoverTest {

  /** cluster-node-timeout; measured, the replica was promoted ~3-3.7 s after the kill. */
  private static final Duration NODE_TIMEOUT = Duration.ofMillis(1500);
  /** From the kill to a working claim on the dead master's keys; ~30 s with Lettuce's default. */
  private static final Duration RECOVERY_BOUND = Duration.ofSeconds(15);
  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);
  private static final StoredResponse RESPONSE =
      new StoredResponse(
          201,
          Map.of("Content-Type", List.of("text/plain")),
          "before the failover".getBytes(StandardCharsets.UTF_8));

  @Test
  void aPromotedReplicaServesTheDeadMastersKeysWithinSecondsAndReplaysWhatItHad() {
    try (RedisClusterProcess cluster = RedisClusterProcess.start(3, 1, NODE_TIMEOUT);
        RedisStore store = RedisStore.builder(cluster.uri()).build()) {
      int dead = 0;
      int alive = 1;
      RedisProcess master = cluster.nodes().get(dead);
      RedisProcess replica = cluster.replicasOf(dead).get(0);

      String completedBefore = keyOn(cluster, dead);
      Acquisition claim = store.acquire(completedBefore, "h", LOCK, RETENTION);
      assertThat(claim).isInstanceOf(Acquisition.Acquired.class);
      long token = ((Acquisition.Acquired) claim).token();
      assertThat(store.complete(completedBefore, token, RESPONSE, RETENTION)).isTrue();
      // What WAIT 1 on the store's connection would make certain (WAIT on a helper connection
      // would not: it waits only for that connection's own writes): the replica has applied
      // everything the master had written.
      long written = Long.parseLong(master.info("replication").get("master_repl_offset"));
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> offset(replica, "slave_repl_offset") >= written);

      master.kill();
      Timeline timeline = new Timeline();

      // Another master's keys still work (until the dead master is judged failed: then every
      // key gets CLUSTERDOWN until the promotion); the dead one's fail (commands are rejected
      // while its connection is down, and no MOVED comes to redirect them).
      assertThat(roundTrip(store, keyOn(cluster, alive))).isTrue();
      assertThatThrownBy(() -> roundTrip(store, keyOn(cluster, dead)))
          .isInstanceOf(StoreException.class);

      try {
        await()
            .atMost(RECOVERY_BOUND)
            .pollInterval(Duration.ofMillis(100))
            .until(() -> timeline.attempt(store, keyOn(cluster, dead), keyOn(cluster, alive)));
      } catch (ConditionTimeoutException e) {
        throw new AssertionError(
            "the dead master's keys still failed " + RECOVERY_BOUND + " after the kill:\n"
                + timeline, e);
      }

      assertThat(replica.info("replication").get("role")).isEqualTo("master");
      assertThat(store.acquire(completedBefore, "h", LOCK, RETENTION))
          .isInstanceOfSatisfying(
              Acquisition.Completed.class,
              replay -> {
                assertThat(replay.response().status()).isEqualTo(201);
                assertThat(replay.response().body()).isEqualTo(RESPONSE.body());
              });
    }
  }

  private static long offset(RedisProcess node, String field) {
    return Long.parseLong(node.info("replication").get(field));
  }

  private static boolean roundTrip(RedisStore store, String key) {
    Acquisition acquired = store.acquire(key, "h", LOCK, RETENTION);
    return acquired instanceof Acquisition.Acquired a
        && store.complete(key, a.token(), RESPONSE, RETENTION);
  }

  /** A new key whose Redis key (with the store's prefix) was in {@code master}'s slots at start. */
  private static String keyOn(RedisClusterProcess cluster, int master) {
    while (true) {
      String key = "failover:" + UUID.randomUUID();
      if (cluster.masterOfSlot(SlotHash.getSlot(RedisStore.DEFAULT_KEY_PREFIX + key)) == master) {
        return key;
      }
    }
  }

  /**
   * Claims and completes a key on the dead master and one on a live master per attempt and
   * notes both outcomes, runs of equal ones folded into one line, for the failure message.
   */
  private static final class Timeline {

    private final long start = System.nanoTime();
    private final List<String> lines = new ArrayList<>();
    private String last;
    private long firstAt;
    private long lastAt;
    private int count;

    /** True once the key on the dead master's slots could be claimed and completed. */
    synchronized boolean attempt(RedisStore store, String deadKey, String liveKey) {
      long at = (System.nanoTime() - start) / 1_000_000;
      String live = outcome(store, liveKey);
      String dead = outcome(store, deadKey);
      String seen = "dead master's key: " + dead + "; live master's key: " + live;
      if (!seen.equals(last)) {
        fold();
        last = seen;
        firstAt = at;
        count = 0;
      }
      lastAt = at;
      count++;
      return dead.equals("ok");
    }

    private static String outcome(RedisStore store, String key) {
      try {
        return roundTrip(store, key) ? "ok" : "not completed";
      } catch (StoreException e) {
        return e.getMessage().replaceAll("^.* failed: ", "");
      }
    }

    private void fold() {
      if (last != null) {
        lines.add(String.format("  %5d..%5d ms (%2d tries) %s", firstAt, lastAt, count, last));
      }
    }

    @Override
    public synchronized String toString() {
      fold();
      last = null;
      return String.join("\n", lines);
    }
  }
}
