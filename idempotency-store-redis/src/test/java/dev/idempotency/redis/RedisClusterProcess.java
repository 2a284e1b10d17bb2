package dev.idempotency.redis;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real Redis Cluster of {@code masters} {@code redis-server} processes on free loopback ports,
 * optionally with replicas, owned by a test. Slots are split evenly and the nodes introduced with
 * {@code CLUSTER ADDSLOTS}, {@code CLUSTER MEET} and {@code CLUSTER REPLICATE} — what {@code
 * redis-cli --cluster create [--cluster-replicas N]} does — so it works with the embedded binary
 * too, which ships no {@code redis-cli}. {@link #start} returns once every node reports {@code
 * cluster_state:ok}, knows every other node, and (with replicas) every replica is in sync with
 * its master and known as its replica to every node, so a failover can be voted at once.
 *
 * <pre>{@code
 * try (RedisClusterProcess cluster = RedisClusterProcess.start(3)) {
 *   String uri = cluster.uri();   // redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
 * }
 * try (RedisClusterProcess cluster =
 *     RedisClusterProcess.start(3, 1, Duration.ofMillis(2000))) {
 *   cluster.nodes().get(0).kill();   // its replica, cluster.replicasOf(0).get(0), takes over
 * }
 * }</pre>
 *
 * <p>Thread-safety: immutable after start; the nodes are {@link RedisProcess}es.
 */
public final class RedisClusterProcess implements AutoCloseable {

  private static final int SLOTS = 16_384;
  private static final Duration DEFAULT_NODE_TIMEOUT = Duration.ofMillis(5000);

  private final List<RedisProcess> masters;
  /** replicas.get(i): the replicas of master i, as started. */
  private final List<List<RedisProcess>> replicas;
  private final boolean tls;

  private RedisClusterProcess(
      List<RedisProcess> masters, List<List<RedisProcess>> replicas, boolean tls) {
    this.masters = List.copyOf(masters);
    this.replicas = replicas.stream().map(List::copyOf).toList();
    this.tls = tls;
  }

  /** Starts a cluster of {@code masters} nodes, no replicas; returns once it serves every slot. */
  public static RedisClusterProcess start(int masters) {
    return start(masters, 0, DEFAULT_NODE_TIMEOUT);
  }

  /**
   * Starts a cluster of {@code masters} masters with {@code replicasPerMaster} replicas each and
   * {@code cluster-node-timeout} {@code nodeTimeout} (how long a node may not answer before it is
   * suspected; a replica takes over a dead master about a second or two after that), and waits
   * until it serves every slot and every replica is in sync.
   */
  public static RedisClusterProcess start(
      int masters, int replicasPerMaster, Duration nodeTimeout) {
    return start(masters, replicasPerMaster, nodeTimeout, null);
  }

  /**
   * Starts a cluster of {@code masters} nodes, no replicas, that speaks only TLS, to clients and
   * on the cluster bus ({@code --tls-cluster yes}), with {@code certs}' server certificate; see
   * {@link RedisProcess#startTls}. {@link #uri()} is then {@code rediss-cluster://...}.
   */
  public static RedisClusterProcess startTls(int masters, TestCertificates certs) {
    return start(masters, 0, DEFAULT_NODE_TIMEOUT, certs);
  }

  private static RedisClusterProcess start(
      int masters, int replicasPerMaster, Duration nodeTimeout, TestCertificates certs) {
    if (masters < 1) {
      throw new IllegalArgumentException("masters must be positive: " + masters);
    }
    if (replicasPerMaster < 0) {
      throw new IllegalArgumentException("replicasPerMaster must be >= 0: " + replicasPerMaster);
    }
    List<String> args =
        List.of(
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", Long.toString(nodeTimeout.toMillis()),
            // A replica may always take over, however long it was cut off from its master: a
            // loaded test machine must not make it judge its data too old.
            "--cluster-replica-validity-factor", "0",
            // Full syncs without waiting for more replicas (Redis 7 waits 5 s by default).
            "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0");
    if (certs != null) {
      args = new ArrayList<>(args);
      args.addAll(List.of("--tls-cluster", "yes", "--tls-replication", "yes"));
    }
    List<RedisProcess> masterNodes = new ArrayList<>();
    List<List<RedisProcess>> replicaNodes = new ArrayList<>();
    List<RedisProcess> all = new ArrayList<>();
    try {
      for (int i = 0; i < masters; i++) {
        RedisProcess master = node(RedisProcess.freePort(true), args, certs);
        masterNodes.add(master);
        all.add(master);
      }
      for (int i = 0; i < masters; i++) {
        List<RedisProcess> ofMaster = new ArrayList<>();
        for (int r = 0; r < replicasPerMaster; r++) {
          RedisProcess replica = node(RedisProcess.freePort(true), args, certs);
          ofMaster.add(replica);
          all.add(replica);
        }
        replicaNodes.add(ofMaster);
      }
      for (int i = 0; i < masters; i++) {
        List<String> addSlots = new ArrayList<>();
        addSlots.add("CLUSTER");
        addSlots.add("ADDSLOTS");
        for (int slot = firstSlot(i, masters); slot < firstSlot(i + 1, masters); slot++) {
          addSlots.add(Integer.toString(slot));
        }
        masterNodes.get(i).call(addSlots.toArray(String[]::new));
      }
      for (RedisProcess node : all.subList(1, all.size())) {
        all.get(0).call("CLUSTER", "MEET", "127.0.0.1", Integer.toString(node.port()));
      }
      if (replicasPerMaster > 0) {
        // CLUSTER REPLICATE needs the master known to the replica ("ERR Unknown node").
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> all.stream().allMatch(node -> knowsAll(node, all.size())));
        for (int i = 0; i < masters; i++) {
          String masterId = id(masterNodes.get(i));
          for (RedisProcess replica : replicaNodes.get(i)) {
            replica.call("CLUSTER", "REPLICATE", masterId);
          }
        }
      }
      List<String> replicaLines = new ArrayList<>();
      for (int i = 0; i < masters; i++) {
        String masterId = id(masterNodes.get(i));
        for (RedisProcess replica : replicaNodes.get(i)) {
          replicaLines.add(id(replica) + " slave " + masterId);
        }
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () ->
                  all.stream().allMatch(node -> ready(node, all.size(), replicaLines))
                      && replicaNodes.stream()
                          .flatMap(List::stream)
                          .allMatch(RedisClusterProcess::inSync));
      return new RedisClusterProcess(masterNodes, replicaNodes, certs != null);
    } catch (RuntimeException e) {
      all.forEach(RedisProcess::close);
      throw e;
    }
  }

  private static RedisProcess node(int port, List<String> args, TestCertificates certs) {
    return certs == null
        ? RedisProcess.start(port, args)
        : RedisProcess.startTls(certs, port, args);
  }

  private static int firstSlot(int master, int masters) {
    return SLOTS * master / masters;
  }

  private static String id(RedisProcess node) {
    return (String) node.call("CLUSTER", "MYID");
  }

  private static boolean knowsAll(RedisProcess node, int total) {
    String info = (String) node.call("CLUSTER", "INFO");
    return info.contains("cluster_known_nodes:" + total + "\r\n");
  }

  /**
   * Serving every slot, knowing every node, and seeing every replica as its master's: the other
   * masters vote only for a replica they know as the failed master's.
   */
  private static boolean ready(RedisProcess node, int total, List<String> replicaLines) {
    String info = (String) node.call("CLUSTER", "INFO");
    if (!(info.contains("cluster_state:ok")
        && info.contains("cluster_known_nodes:" + total + "\r\n")
        && info.contains("cluster_slots_ok:" + SLOTS + "\r\n"))) {
      return false;
    }
    if (replicaLines.isEmpty()) {
      return true;
    }
    // Lines: <id> <ip:port@bus> <flags> <master id or -> ...; flags may read myself,slave.
    List<String> lines =
        Stream.of(((String) node.call("CLUSTER", "NODES")).split("\n"))
            .map(line -> line.split(" "))
            .filter(f -> f.length > 3)
            .map(f -> f[0] + " " + (f[2].contains("slave") ? "slave" : "master") + " " + f[3])
            .toList();
    return lines.containsAll(replicaLines);
  }

  private static boolean inSync(RedisProcess replica) {
    return replica.info("replication").getOrDefault("master_link_status", "").equals("up");
  }

  /** The masters as started, in slot order: node 0 serves the lowest slots. */
  public List<RedisProcess> nodes() {
    return masters;
  }

  /** The replicas started for master {@code master} (an index into {@link #nodes()}). */
  public List<RedisProcess> replicasOf(int master) {
    return replicas.get(master);
  }

  /** The index into {@link #nodes()} of the master that served {@code slot} when started. */
  public int masterOfSlot(int slot) {
    if (slot < 0 || slot >= SLOTS) {
      throw new IllegalArgumentException("slot must be 0.." + (SLOTS - 1) + ": " + slot);
    }
    for (int i = masters.size() - 1; i >= 0; i--) {
      if (slot >= firstSlot(i, masters.size())) {
        return i;
      }
    }
    throw new AssertionError(slot);
  }

  /**
   * {@code redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...} ({@code rediss-cluster://} with TLS):
   * every node, replicas too, as a seed.
   */
  public String uri() {
    return (tls ? "rediss-cluster://" : "redis-cluster://")
        + all().map(n -> "127.0.0.1:" + n.port()).collect(Collectors.joining(","));
  }

  /**
   * The sum over the masters of how often each ran {@code command}; see {@link
   * RedisProcess#commandCalls(String)}.
   */
  public long commandCalls(String command) {
    return masters.stream().mapToLong(n -> n.commandCalls(command)).sum();
  }

  private Stream<RedisProcess> all() {
    return Stream.concat(masters.stream(), replicas.stream().flatMap(List::stream));
  }

  /** Kills every node and deletes their directories. */
  @Override
  public void close() {
    all().forEach(RedisProcess::close);
  }
}
