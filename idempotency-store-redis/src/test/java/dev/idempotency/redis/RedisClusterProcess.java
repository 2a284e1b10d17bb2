package dev.idempotency.redis;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A real Redis Cluster of {@code masters} {@code redis-server} processes on free loopback ports
 * (no replicas), owned by a test. Slots are split evenly and the nodes introduced with {@code
 * CLUSTER ADDSLOTS} and {@code CLUSTER MEET} — what {@code redis-cli --cluster create} does — so
 * it works with the embedded binary too, which ships no {@code redis-cli}. {@link #start} returns
 * once every node reports {@code cluster_state:ok}.
 *
 * <pre>{@code
 * try (RedisClusterProcess cluster = RedisClusterProcess.start(3)) {
 *   String uri = cluster.uri();   // redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
 * }
 * }</pre>
 *
 * <p>Thread-safety: immutable after start; the nodes are {@link RedisProcess}es.
 */
public final class RedisClusterProcess implements AutoCloseable {

  private static final int SLOTS = 16_384;

  private final List<RedisProcess> nodes;

  private RedisClusterProcess(List<RedisProcess> nodes) {
    this.nodes = List.copyOf(nodes);
  }

  /** Starts a cluster of {@code masters} nodes and waits until it serves every slot. */
  public static RedisClusterProcess start(int masters) {
    if (masters < 1) {
      throw new IllegalArgumentException("masters must be positive: " + masters);
    }
    List<RedisProcess> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < masters; i++) {
        nodes.add(
            RedisProcess.start(
                RedisProcess.freePort(true),
                List.of(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "5000")));
      }
      for (int i = 0; i < masters; i++) {
        int from = SLOTS * i / masters;
        int to = SLOTS * (i + 1) / masters;
        List<String> args = new ArrayList<>();
        args.add("CLUSTER");
        args.add("ADDSLOTS");
        for (int slot = from; slot < to; slot++) {
          args.add(Integer.toString(slot));
        }
        nodes.get(i).call(args.toArray(String[]::new));
      }
      for (int i = 1; i < masters; i++) {
        nodes.get(0).call("CLUSTER", "MEET", "127.0.0.1", Integer.toString(nodes.get(i).port()));
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> nodes.stream().allMatch(node -> ready(node, masters)));
      return new RedisClusterProcess(nodes);
    } catch (RuntimeException e) {
      nodes.forEach(RedisProcess::close);
      throw e;
    }
  }

  private static boolean ready(RedisProcess node, int masters) {
    String info = (String) node.call("CLUSTER", "INFO");
    return info.contains("cluster_state:ok")
        && info.contains("cluster_known_nodes:" + masters + "\r\n")
        && info.contains("cluster_slots_ok:" + SLOTS + "\r\n");
  }

  /** The nodes, in slot order: node 0 serves the lowest slots. */
  public List<RedisProcess> nodes() {
    return nodes;
  }

  /** {@code redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...}: every node as a seed. */
  public String uri() {
    return "redis-cluster://"
        + nodes.stream().map(n -> "127.0.0.1:" + n.port()).collect(Collectors.joining(","));
  }

  /** The sum over all nodes of how often each ran {@code command}; see {@link RedisProcess#commandCalls(String)}. */
  public long commandCalls(String command) {
    return nodes.stream().mapToLong(n -> n.commandCalls(command)).sum();
  }

  /** Kills every node and deletes their directories. */
  @Override
  public void close() {
    nodes.forEach(RedisProcess::close);
  }
}
