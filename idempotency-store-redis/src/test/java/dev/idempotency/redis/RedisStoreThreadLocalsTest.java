package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.spi.Acquisition.Acquired;
import dev.idempotency.spi.Acquisition.Completed;
import dev.idempotency.spi.StoredResponse;
import io.netty.util.internal.InternalThreadLocalMap;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The store leaves nothing of Netty's in the thread-locals of the threads that call it. Those are
 * a servlet container's threads, which outlive the webapp: a Netty map left in one (its class,
 * and with it the webapp's class loader) kept every undeployed copy of a WAR in memory, and
 * Tomcat logged "created a ThreadLocal with key of type [java.lang.ThreadLocal] ... and a value
 * of type [io.netty.util.internal.InternalThreadLocalMap] ... but failed to remove it" for each
 * request thread at every redeploy.
 */
class RedisStoreThreadLocalsTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  @Test
  void callersThreadsKeepNoNettyThreadLocals() throws Exception {
    List<String> left = new ArrayList<>();
    ExecutorService containerThread = Executors.newSingleThreadExecutor();
    try (RedisProcess redis = RedisProcess.start()) {
      containerThread.submit(() -> {
        StoredResponse response =
            new StoredResponse(201, Map.of(), "done".getBytes(StandardCharsets.UTF_8));
        try (RedisStore store = RedisStore.builder(redis.uri()).build()) {
          check(left, "build");
          long token = ((Acquired) store.acquire("k", "h", LOCK, RETENTION)).token();
          check(left, "acquire");
          store.complete("k", token, response, RETENTION);
          check(left, "complete");
          assertThat(store.acquire("k", "h", LOCK, RETENTION)).isInstanceOf(Completed.class);
          check(left, "replay");
          store.inspect("k");
          check(left, "inspect");
          long other = ((Acquired) store.acquire("o", "h", LOCK, RETENTION)).token();
          store.renew("o", other, LOCK);
          check(left, "renew");
          store.watch("o").cancel(false);
          check(left, "watch");
          store.inFlightOlderThan(Duration.ZERO, 10);
          check(left, "inFlightOlderThan");
          store.release("o", other);
          check(left, "release");
          store.purge("k");
          check(left, "purge");
        }
        check(left, "close");
        return null;
      }).get(30, TimeUnit.SECONDS);
    } finally {
      containerThread.shutdownNow();
    }
    assertThat(left).as("calls after which the thread held Netty's thread-local map").isEmpty();
  }

  private static void check(List<String> left, String call) {
    if (InternalThreadLocalMap.getIfSet() != null) {
      left.add(call);
      InternalThreadLocalMap.remove();
    }
  }
}
