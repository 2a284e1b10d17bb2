package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.IdempotencyStoreContract;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The store contract against a real 3-master Redis Cluster, plus what Cluster adds. */
class RedisClusterStoreTest extends IdempotencyStoreContract {

  private RedisClusterProcess cluster;
  private RedisStore first;
  private RedisStore second;

  @BeforeAll
  void startCluster() {
    cluster = RedisClusterProcess.start(3);
    first = RedisStore.builder(cluster.uri()).build();
    second = RedisStore.builder(cluster.uri()).build();
  }

  @AfterAll
  void stopCluster() {
    first.close();
    second.close();
    cluster.close();
  }

  @Override
  protected IdempotencyStore store() {
    return first;
  }

  @Override
  protected IdempotencyStore secondStore() {
    return second;
  }

  @Test
  void keysSpreadOverEveryMasterAtOneEvalshaPerOperation() {
    long evalshaBefore = cluster.commandCalls("evalsha");
    long evalBefore = cluster.commandCalls("eval");
    for (int i = 0; i < 60; i++) {
      assertThat(first.acquire("spread:" + UUID.randomUUID(), "h", LONG, RETENTION))
          .isInstanceOf(Acquisition.Acquired.class);
    }
    assertThat(cluster.commandCalls("evalsha") - evalshaBefore).isEqualTo(60);
    assertThat(cluster.commandCalls("eval") - evalBefore).isZero();
    for (RedisProcess node : cluster.nodes()) {
      assertThat((Long) node.call("DBSIZE")).as("keys on node %d", node.port()).isPositive();
    }
  }

  @Test
  void scriptsAreLoadedOnEveryMaster() {
    for (RedisProcess node : cluster.nodes()) {
      List<Object> exists =
          (List<Object>)
              node.call(
                  "SCRIPT",
                  "EXISTS",
                  sha1("acquire"),
                  sha1("complete"),
                  sha1("release"),
                  sha1("renew"),
                  sha1("inspect"),
                  sha1("purge"));
      assertThat(exists).as("node %d", node.port()).containsOnly(1L);
    }
  }

  private static String sha1(String name) {
    return LuaScript.load(name).sha1;
  }
}
