package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.util.List;
import org.junit.jupiter.api.Test;

class RedisProcessTest {

  @Test
  void startsKillsAndRestartsOnTheSamePort() {
    try (RedisProcess redis = RedisProcess.start()) {
      assertThat(redis.call("PING")).isEqualTo("PONG");
      int port = redis.port();
      redis.call("SET", "k", "v");

      redis.kill();
      assertThat(redis.isRunning()).isFalse();
      assertThatThrownBy(() -> redis.call("PING")).isInstanceOf(UncheckedIOException.class);

      redis.restart();
      assertThat(redis.port()).isEqualTo(port);
      assertThat(redis.call("PING")).isEqualTo("PONG");
      assertThat(redis.call("GET", "k")).as("nothing is persisted").isNull();
    }
  }

  @Test
  void countsCommandsFromCommandStats() {
    try (RedisProcess redis = RedisProcess.start()) {
      redis.call("CONFIG", "RESETSTAT");
      redis.call("SET", "a", "1");
      redis.call("SET", "b", "2");
      assertThat(redis.commandCalls("set")).isEqualTo(2);
      assertThat(redis.commandCalls("get")).isZero();
    }
  }

  @Test
  void startsAThreeMasterClusterServingEverySlot() {
    try (RedisClusterProcess cluster = RedisClusterProcess.start(3)) {
      assertThat(cluster.nodes()).hasSize(3);
      for (RedisProcess node : cluster.nodes()) {
        assertThat((String) node.call("CLUSTER", "INFO")).contains("cluster_state:ok");
        assertThat((List<?>) node.call("CLUSTER", "SLOTS")).hasSize(3);
      }
      assertThat(cluster.uri()).startsWith("redis-cluster://127.0.0.1:");
    }
  }
}
