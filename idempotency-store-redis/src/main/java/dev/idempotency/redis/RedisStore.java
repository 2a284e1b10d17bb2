package dev.idempotency.redis;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisKeyCommands;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import io.lettuce.core.api.sync.RedisScriptingCommands;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.NettyCustomizer;
import io.netty.channel.Channel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLHandshakeException;

/**
 * An {@link IdempotencyStore} on Redis — standalone or Cluster — through Lettuce.
 *
 * <p>Every operation is one Lua script ({@code acquire.lua}, {@code complete.lua}, ...) run with
 * {@code EVALSHA} on one key, so it is atomic, costs one network round trip and touches one
 * Cluster slot. A script missing from the server's cache ({@code NOSCRIPT}, after a restart or
 * failover) is sent again with {@code EVAL}. Lock age and expiry are judged by the Redis server's
 * clock ({@code TIME} inside the scripts), never the JVM's. A record is one string, its fields
 * ended by {@code \n}, the body as raw bytes; Redis drops it itself when its TTL runs out:
 *
 * <pre>
 * in flight    {mark}L{token}\n{request hash}\n{created}\n{locked}\n{lock timeout}
 * completed    {mark}C{request hash}\n{created}\n{status}\n{headers length}\n{headers}{body}
 * placeholder  wP   (a watch on a key with no record yet)
 * </pre>
 *
 * <p>Times are milliseconds of the Redis clock (a lock expires at locked + lock timeout),
 * headers {@code name: value} lines whose length is in bytes, and the mark {@code w} when some
 * JVM waits on the key, else {@code -}. A string takes half the memory of a hash with the same
 * fields (a body over 64 bytes turns a hash into a hash table) and one {@code GET} reads it;
 * docs/BENCHMARKS.md has the measurements.
 *
 * <p>{@link #watch} is served by one pub/sub connection with a pattern subscription made at
 * start-up. A watch marks the record as waited on ({@code watch.lua}); {@code complete} and
 * {@code release} of a marked record, and every {@code purge}, publish to the key's channel, so a
 * waiter in any JVM is woken as soon as the owner finishes, while the common case (nobody waits)
 * costs no {@code PUBLISH} and no message to every JVM. If the subscription drops, every waiter
 * is woken when it is back, so none misses a notification sent in between.
 *
 * <p>Redis errors and timeouts (the {@linkplain Builder#commandTimeout command timeout} is short,
 * 1 s by default) surface as {@link StoreException}; while Redis is unreachable commands fail at
 * once instead of queueing, and the connection reconnects by itself (within about a second of
 * Redis coming back).
 *
 * <p>Thread-safe: one instance serves all threads over one multiplexed connection.
 */
public final class RedisStore implements IdempotencyStore {

  /** The default prefix of every key the store writes: {@code idem:}. */
  public static final String DEFAULT_KEY_PREFIX = "idem:";

  /** The default command timeout: 1 second. */
  public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(1);

  /** The default connect timeout: 2 seconds. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);
  /** How long {@link #close} waits for Lettuce's threads to end. */
  private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(2);

  private static final String NAME = "redis";
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RedisStore.class);
  /** How long the mark of a watch on a key with no record yet stays; longer than any wait. */
  static final long WATCH_PLACEHOLDER_MS = 60_000;
  private static final RedisCodec<String, byte[]> CODEC =
      RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);
  private static final LuaScript ACQUIRE = LuaScript.load("acquire");
  private static final LuaScript COMPLETE = LuaScript.load("complete");
  private static final LuaScript RELEASE = LuaScript.load("release");
  private static final LuaScript RENEW = LuaScript.load("renew");
  private static final LuaScript INSPECT = LuaScript.load("inspect");
  private static final LuaScript PURGE = LuaScript.load("purge");
  private static final LuaScript WATCH = LuaScript.load("watch");
  private static final List<LuaScript> SCRIPTS =
      List.of(ACQUIRE, COMPLETE, RELEASE, RENEW, INSPECT, PURGE, WATCH);

  private final String prefix;
  private final String channelPrefix;
  private final RedisAddress address;
  private final ClientResources resources;
  /** Every thread Lettuce started for this store: {@link #close} returns once they ended. */
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private final AbstractRedisClient client;
  private final StatefulConnection<String, byte[]> connection;
  private final RedisScriptingCommands<String, byte[]> scripting;
  private final RedisScriptingAsyncCommands<String, byte[]> asyncScripting;
  private final RedisKeyCommands<String, byte[]> keyCommands;
  private final StatefulRedisPubSubConnection<String, String> pubSub;
  private final AtomicBoolean subscribedOnce = new AtomicBoolean();
  private final ConcurrentHashMap<String, List<CompletableFuture<Void>>> watchers =
      new ConcurrentHashMap<>();
  /** Redis's {@code maxmemory-policy}, read at start-up; null if it could not be read. */
  private final String maxmemoryPolicy;
  /** The largest argument Redis takes ({@code proto-max-bulk-len}); 512 MiB if unreadable. */
  private final long maxArgumentBytes;

  /**
   * Request threads hand each command to the connection's event loop, which wrote and flushed
   * each one on its own: one write system call per command, the largest part of the event
   * loop's CPU in a 32-client profile. Commands queued while a flush waits go out together.
   */
  private static final NettyCustomizer CONSOLIDATED_FLUSHES = new NettyCustomizer() {
    @Override
    public void afterChannelInitialized(Channel channel) {
      channel.pipeline().addFirst(new FlushConsolidationHandler(
          FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
    }
  };

  private RedisStore(Builder builder) {
    this.prefix = builder.keyPrefix;
    this.channelPrefix = builder.keyPrefix + "done:";
    this.address = builder.address;
    this.resources =
        ClientResources.builder()
            .ioThreadPoolSize(2)
            .computationThreadPoolSize(2)
            // Back within about a second of Redis returning, not Lettuce's default of up to 30 s.
            .reconnectDelay(
                Delay.exponential(
                    Duration.ofMillis(1), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
            .nettyCustomizer(CONSOLIDATED_FLUSHES)
            // Lettuce's own factory (Netty's, daemon threads), remembering what it made.
            .threadFactoryProvider(pool -> {
              DefaultThreadFactory netty = new DefaultThreadFactory(pool, true);
              return runnable -> {
                Thread thread = netty.newThread(runnable);
                threads.add(thread);
                return thread;
              };
            })
            .build();
    SocketOptions socket =
        SocketOptions.builder().connectTimeout(builder.connectTimeout).keepAlive(true).build();
    // The synchronous API bounds every call by the URI's timeout. Lettuce's default
    // TimeoutOptions (enabled since Lettuce 6) also schedule a timer task per command; switching
    // them off made no measurable difference to a round trip (docs/BENCHMARKS.md), so they stay.
    for (RedisURI uri : address.uris()) {
      uri.setTimeout(builder.commandTimeout);
    }
    AbstractRedisClient created = null;
    try {
      if (address.cluster()) {
        RedisClusterClient cluster = RedisClusterClient.create(resources, address.uris());
        created = cluster;
        cluster.setOptions(
            ClusterClientOptions.builder()
                .socketOptions(socket)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .topologyRefreshOptions(
                    ClusterTopologyRefreshOptions.builder()
                        .enableAllAdaptiveRefreshTriggers()
                        // Lettuce's default of 30 s between adaptive refreshes kept a promoted
                        // replica's slots failing for 30 s after a master died (with commands
                        // rejected while disconnected, no MOVED comes to trigger one sooner).
                        .adaptiveRefreshTriggersTimeout(Duration.ofSeconds(1))
                        .build())
                .build());
        StatefulRedisClusterConnection<String, byte[]> c = cluster.connect(CODEC);
        this.connection = c;
        this.scripting = c.sync();
        this.asyncScripting = c.async();
        this.keyCommands = c.sync();
        this.pubSub = cluster.connectPubSub(StringCodec.UTF8);
      } else {
        RedisClient standalone = RedisClient.create(resources, address.uris().get(0));
        created = standalone;
        standalone.setOptions(
            ClientOptions.builder()
                .socketOptions(socket)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .build());
        StatefulRedisConnection<String, byte[]> c = standalone.connect(CODEC);
        this.connection = c;
        this.scripting = c.sync();
        this.asyncScripting = c.async();
        this.keyCommands = c.sync();
        this.pubSub = standalone.connectPubSub(StringCodec.UTF8);
      }
      this.client = created;
      for (LuaScript script : SCRIPTS) {
        scripting.scriptLoad(script.source);
      }
      pubSub.addListener(
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String pattern, String channel, String message) {
              if (channel.startsWith(channelPrefix)) {
                wake(channel.substring(channelPrefix.length()));
              }
            }

            @Override
            public void psubscribed(String pattern, long count) {
              // Called again when Lettuce subscribes after a reconnect: whatever completed while
              // the subscription was down went unheard, so every waiter looks again. The first
              // call can arrive after the constructor returned and a watch was registered, and
              // must not wake that watch.
              if (!subscribedOnce.compareAndSet(false, true)) {
                wakeAll();
              }
            }
          });
      try {
        pubSub.sync().psubscribe(globEscaped(channelPrefix) + "*");
      } catch (RedisCommandExecutionException e) {
        if (e.getMessage() != null && e.getMessage().startsWith("NOPERM")) {
          // An ACL user gets no channels unless granted (Redis 7's default, acl-pubsub-default).
          throw new StoreException(NAME, "Redis at " + address + " does not let its user "
              + "subscribe to the store's channels " + channelPrefix + "*: grant them in the "
              + "user's ACL (&" + channelPrefix + "*). " + e.getMessage(), e);
        }
        throw e;
      }
      this.maxmemoryPolicy = readMaxmemoryPolicy();
      this.maxArgumentBytes = maxArgumentBytes();
    } catch (RuntimeException e) {
      shutDown(created);
      if (e instanceof StoreException refused) {
        throw refused;
      }
      throw new StoreException(
          NAME,
          "cannot connect to Redis at " + address + ": " + rootMessage(e) + tlsHint(e),
          e);
    } finally {
      dropNettyThreadLocals();
    }
  }

  /**
   * Redis's {@code maxmemory-policy} (on Cluster, the answering node's), logged at ERROR unless
   * {@code noeviction}: every record has a TTL, so every policy but that one may evict claims and
   * responses. Null if {@code INFO} is refused.
   */
  @SuppressWarnings("unchecked")
  private String readMaxmemoryPolicy() {
    String info;
    try {
      info = connection instanceof StatefulRedisConnection<String, byte[]> standalone
          ? standalone.sync().info("memory")
          : ((StatefulRedisClusterConnection<String, byte[]>) connection).sync().info("memory");
    } catch (RedisException e) {
      return null;
    }
    for (String line : info.split("\r?\n")) {
      if (line.startsWith("maxmemory_policy:")) {
        String policy = line.substring("maxmemory_policy:".length()).trim();
        if (!policy.equals("noeviction")) {
          LOG.error("Redis at {} evicts keys under memory pressure (maxmemory-policy {}): an "
              + "evicted claim or response lets a duplicate run again, unnoticed. "
              + "Use a Redis with maxmemory-policy noeviction for idempotency records.",
              address, policy);
        }
        return policy;
      }
    }
    return null;
  }

  @SuppressWarnings("unchecked")
  private long maxArgumentBytes() {
    try {
      Map<String, String> config = connection instanceof StatefulRedisConnection<String, byte[]> c
          ? c.sync().configGet("proto-max-bulk-len")
          : ((StatefulRedisClusterConnection<String, byte[]>) connection).sync()
              .configGet("proto-max-bulk-len");
      return Long.parseLong(config.get("proto-max-bulk-len"));
    } catch (RedisException | NullPointerException | NumberFormatException e) {
      return 512L * 1024 * 1024; // CONFIG is often renamed or refused on managed Redis
    }
  }

  /** Redis's {@code maxmemory-policy} as read at start-up; null if INFO was refused. */
  String maxmemoryPolicy() {
    return maxmemoryPolicy;
  }

  /** A builder for a store on the Redis at {@code uri} (see {@link Builder#build()}). */
  public static Builder builder(String uri) {
    return new Builder(uri);
  }

  @Override
  public Acquisition acquire(
      String key, String requestHash, Duration lockTimeout, Duration retention) {
    if (requestHash.indexOf('\n') >= 0) {
      // The record ends the hash with a line break: the filter's hashes are hex.
      throw new IllegalArgumentException("requestHash must not contain a line break");
    }
    long token = newToken();
    List<Object> reply;
    try {
      reply =
          run(
              ACQUIRE,
              ScriptOutputType.MULTI,
              key,
              utf8(requestHash),
              ascii(token),
              ascii(lockTimeout.toMillis()),
              ascii(Math.max(lockTimeout.toMillis(), retention.toMillis())));
    } catch (StoreException e) {
      if (!(e.getCause() instanceof RedisCommandExecutionException)) {
        // No answer (a timeout, the connection lost): the claim may have run all the same.
        releaseUnansweredClaim(key, token, lockTimeout.toMillis(), 1);
      }
      throw e;
    }
    Object first = reply.get(0);
    if (first instanceof byte[] record) {
      return new Acquisition.Completed(completedResponse(record));
    }
    long kind = (Long) first;
    if (reply.size() == 2) {
      return new Acquisition.InFlight(Duration.ofMillis((Long) reply.get(1)));
    }
    if (kind == -1) {
      return Acquisition.MISMATCH;
    }
    return new Acquisition.Acquired(token, kind == 1);
  }

  /**
   * A claim that got no answer may still have run in Redis: a paused or overloaded server runs
   * what it was sent when it resumes, and a connection lost after the command arrived loses only
   * the reply. Either leaves a lock no request holds, answering duplicates in flight until it
   * runs out. A release with its token undoes it: sent on the same connection, after the claim
   * (a timeout), or once the connection is back (a lost one), tried again with back-off until
   * Redis answers or the lock would have run out. {@code EVAL}, not {@code EVALSHA}: after a
   * restart or failover nothing may have cached the release script again. The token is the
   * claim's own, so a release of a claim that never ran does nothing.
   */
  private void releaseUnansweredClaim(String key, long token, long leftMs, long delayMs) {
    Runnable again = () -> {
      if (leftMs > delayMs && !resources.eventExecutorGroup().isShuttingDown()) {
        resources.eventExecutorGroup().schedule(
            () -> releaseUnansweredClaim(key, token, leftMs - delayMs,
                Math.min(1_000, delayMs * 2)),
            delayMs, TimeUnit.MILLISECONDS);
      }
    };
    try {
      asyncScripting
          .eval(RELEASE.source, ScriptOutputType.INTEGER, new String[] {prefix + key},
              ascii(token), utf8(channelPrefix + key))
          .whenComplete((released, error) -> {
            if (error != null && !(error instanceof RedisCommandExecutionException)) {
              again.run();
            }
          });
    } catch (RuntimeException e) {
      again.run(); // refused while disconnected: again once it may be back
    } finally {
      dropNettyThreadLocals();
    }
  }

  /**
   * Whether Redis takes this response in one argument ({@code proto-max-bulk-len}); a
   * {@link #complete} of one it does not take releases the claim and answers {@code false}.
   */
  @Override
  public boolean takes(StoredResponse response) {
    return responseFieldsLength(response) <= maxArgumentBytes;
  }

  /** The length of {@link #responseFields}, without copying the body. */
  private static long responseFieldsLength(StoredResponse response) {
    int headers = utf8(response.headersAsText()).length;
    return (response.status() + "\n" + headers + "\n").length() + (long) headers
        + response.body().length;
  }

  @Override
  public boolean complete(String key, long token, StoredResponse response, Duration retention) {
    byte[] fields = responseFields(response);
    if (fields.length > maxArgumentBytes) {
      // Redis would answer a protocol error and close the connection every request shares.
      LOG.warn("the response of key {} ({} bytes) is over what Redis at {} takes in one "
          + "argument (proto-max-bulk-len {}): not stored, the claim released",
          key.length() > 12 ? key.substring(0, 12) : key, fields.length, address,
          maxArgumentBytes);
      release(key, token);
      return false;
    }
    Long done =
        run(
            COMPLETE,
            ScriptOutputType.INTEGER,
            key,
            ascii(token),
            fields,
            // Redis refuses PX 0; a redis+jdbc repair may pass what a JDBC record has left.
            ascii(Math.max(1, retention.toMillis())),
            utf8(channelPrefix + key));
    if (done == 1) {
      wake(key);
    }
    return done == 1;
  }

  @Override
  public boolean release(String key, long token) {
    Long done =
        run(RELEASE, ScriptOutputType.INTEGER, key, ascii(token), utf8(channelPrefix + key));
    if (done == 1) {
      wake(key);
    }
    return done == 1;
  }

  @Override
  public boolean renew(String key, long token, Duration lockTimeout) {
    Long done =
        run(RENEW, ScriptOutputType.INTEGER, key, ascii(token), ascii(lockTimeout.toMillis()));
    return done == 1;
  }

  @Override
  public Optional<RecordInfo> inspect(String key) {
    List<Object> reply = run(INSPECT, ScriptOutputType.MULTI, key);
    if (reply.isEmpty()) {
      return Optional.empty();
    }
    String hash = text(reply.get(1));
    Duration age = Duration.ofMillis((Long) reply.get(2));
    if ((Long) reply.get(0) == 1) {
      return Optional.of(
          new RecordInfo(
              key,
              RecordInfo.State.IN_FLIGHT,
              hash,
              age,
              Duration.ofMillis((Long) reply.get(3)),
              Duration.ofMillis((Long) reply.get(4)),
              0,
              0));
    }
    return Optional.of(
        new RecordInfo(
            key,
            RecordInfo.State.COMPLETED,
            hash,
            age,
            null,
            Duration.ofMillis((Long) reply.get(3)),
            ((Long) reply.get(4)).intValue(),
            ((Long) reply.get(5)).intValue()));
  }

  @Override
  public boolean purge(String key) {
    Long done = run(PURGE, ScriptOutputType.INTEGER, key, utf8(channelPrefix + key));
    if (done == 1) {
      wake(key);
    }
    return done == 1;
  }

  /**
   * Scans every key under the prefix (on Cluster, every master) and inspects each: for operators,
   * not for the request path.
   */
  @Override
  public List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit) {
    List<RecordInfo> found = new ArrayList<>();
    ScanArgs args = ScanArgs.Builder.matches(globEscaped(prefix) + "*").limit(500);
    try {
      KeyScanCursor<String> cursor = keyCommands.scan(args);
      while (true) {
        for (String redisKey : cursor.getKeys()) {
          inspect(redisKey.substring(prefix.length()))
              .filter(info -> info.state() == RecordInfo.State.IN_FLIGHT)
              .filter(info -> info.lockAge().compareTo(olderThan) >= 0)
              .ifPresent(found::add);
        }
        if (cursor.isFinished()) {
          break;
        }
        cursor = keyCommands.scan(cursor, args);
      }
    } catch (RedisException e) {
      throw new StoreException(NAME, "scan on " + address + " failed: " + e.getMessage(), e);
    } finally {
      dropNettyThreadLocals();
    }
    found.sort(Comparator.comparing(RecordInfo::lockAge).reversed());
    return found.size() > limit ? List.copyOf(found.subList(0, limit)) : found;
  }

  /**
   * A future completed when {@code key} is next completed, released or purged by any store on
   * this Redis. One round trip marks the record as waited on (with no record yet, a placeholder
   * that lives {@value #WATCH_PLACEHOLDER_MS} ms marks the key for its next owner); the pattern
   * subscription is already active. A caller that stops waiting should cancel the future so the
   * store forgets it.
   */
  @Override
  public CompletableFuture<Void> watch(String key) {
    CompletableFuture<Void> waiter = listen(key);
    try {
      run(WATCH, ScriptOutputType.INTEGER, key, ascii(WATCH_PLACEHOLDER_MS));
    } catch (StoreException e) {
      waiter.cancel(false);
      throw e;
    }
    return waiter;
  }

  /** Registered before the record is marked, so a completion in between is not missed. */
  private CompletableFuture<Void> listen(String key) {
    CompletableFuture<Void> waiter = new CompletableFuture<>();
    watchers.compute(
        key,
        (k, list) -> {
          List<CompletableFuture<Void>> next = list == null ? new ArrayList<>(1) : list;
          next.add(waiter);
          return next;
        });
    waiter.whenComplete(
        (ignored, error) ->
            watchers.computeIfPresent(
                key,
                (k, list) -> {
                  list.remove(waiter);
                  return list.isEmpty() ? null : list;
                }));
    return waiter;
  }

  private void wake(String key) {
    List<CompletableFuture<Void>> woken = watchers.remove(key);
    if (woken != null) {
      woken.forEach(waiter -> waiter.complete(null));
    }
  }

  private void wakeAll() {
    for (String key : List.copyOf(watchers.keySet())) {
      wake(key);
    }
  }

  /**
   * The connection every store operation runs on, for the benchmarks' floor: a round trip on
   * another connection is served by another event-loop thread, whose wake-ups cost differently.
   */
  StatefulConnection<String, byte[]> connection() {
    return connection;
  }

  /** How many watch futures are waiting, for tests and metrics. */
  int waiting() {
    return watchers.values().stream().mapToInt(List::size).sum();
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public void close() {
    try {
      pubSub.close();
      connection.close();
    } finally {
      shutDown(client);
      dropNettyThreadLocals();
    }
  }

  /**
   * Shuts the client and its threads down and waits for the threads to end, at most
   * {@link #SHUTDOWN_WAIT}: a servlet container looks for a webapp's threads as soon as its
   * filters' {@code destroy()} returned, and reports those still running as leaks.
   */
  private void shutDown(AbstractRedisClient created) {
    long deadline = System.nanoTime() + SHUTDOWN_WAIT.toNanos();
    if (created != null) {
      created.shutdown(Duration.ZERO, SHUTDOWN_WAIT);
    }
    resources.shutdown(0, SHUTDOWN_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    try {
      for (Thread thread : threads) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || Thread.currentThread() == thread) {
          continue;
        }
        TimeUnit.NANOSECONDS.timedJoin(thread, left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "RedisStore[" + address + ", prefix=" + prefix + "]";
  }

  @SuppressWarnings("unchecked")
  private <T> T run(LuaScript script, ScriptOutputType type, String key, byte[]... args) {
    String[] keys = {prefix + key};
    try {
      try {
        return (T) scripting.evalsha(script.sha1, type, keys, args);
      } catch (RedisNoScriptException e) {
        // The server lost its script cache (restart, failover, SCRIPT FLUSH); EVAL caches it again.
        return (T) scripting.eval(script.source, type, keys, args);
      }
    } catch (RedisException e) {
      throw new StoreException(
          NAME, script.name + " on " + address + " failed: " + rootMessage(e), e);
    } finally {
      dropNettyThreadLocals();
    }
  }

  /**
   * Netty keeps a map in a thread-local of each thread that writes to a channel (Lettuce writes
   * its commands on the caller's thread). The callers are a servlet container's threads, which
   * outlive the webapp: a map left there holds the webapp's class loader after an undeploy, every
   * copy of the WAR redeployed stays in memory, and Tomcat logs each one as a leak. So a thread
   * Netty does not own leaves every call without it; the next call makes a new one.
   */
  private static void dropNettyThreadLocals() {
    if (!(Thread.currentThread() instanceof FastThreadLocalThread)) {
      FastThreadLocal.removeAll();
    }
  }

  private static long newToken() {
    long token;
    do {
      token = ThreadLocalRandom.current().nextLong();
    } while (token == 0);
    return token;
  }

  private static byte[] ascii(long value) {
    return Long.toString(value).getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] utf8(String value) {
    return value.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(Object reply) {
    return reply == null ? "" : new String((byte[]) reply, StandardCharsets.UTF_8);
  }

  /** {@code {status}\n{headers length}\n{headers}{body}}: a completed record's last fields. */
  private static byte[] responseFields(StoredResponse response) {
    byte[] headers = utf8(response.headersAsText());
    byte[] lengths =
        (response.status() + "\n" + headers.length + "\n").getBytes(StandardCharsets.US_ASCII);
    byte[] body = response.body();
    byte[] fields = Arrays.copyOf(lengths, lengths.length + headers.length + body.length);
    System.arraycopy(headers, 0, fields, lengths.length, headers.length);
    System.arraycopy(body, 0, fields, lengths.length + headers.length, body.length);
    return fields;
  }

  /** The response in a completed record (the layout is in the class javadoc). */
  private static StoredResponse completedResponse(byte[] record) {
    int hashEnd = lineEnd(record, 2);
    int createdEnd = lineEnd(record, hashEnd + 1);
    int statusEnd = lineEnd(record, createdEnd + 1);
    int headersLengthEnd = lineEnd(record, statusEnd + 1);
    int headersLength = asciiInt(record, statusEnd + 1, headersLengthEnd);
    int bodyStart = headersLengthEnd + 1 + headersLength;
    return new StoredResponse(
        asciiInt(record, createdEnd + 1, statusEnd),
        StoredResponse.parseHeaders(
            new String(record, headersLengthEnd + 1, headersLength, StandardCharsets.UTF_8)),
        Arrays.copyOfRange(record, bodyStart, record.length));
  }

  private static int lineEnd(byte[] record, int from) {
    for (int i = from; i < record.length; i++) {
      if (record[i] == '\n') {
        return i;
      }
    }
    throw new IllegalStateException("not a completed record: a field has no line end");
  }

  private static int asciiInt(byte[] record, int from, int to) {
    return Integer.parseInt(new String(record, from, to - from, StandardCharsets.US_ASCII));
  }

  private static String globEscaped(String text) {
    return text.replaceAll("([\\\\*?\\[\\]])", "\\\\$1");
  }

  /**
   * What a failed start-up most likely means when TLS is involved, or "": a TLS port resets a
   * plain-text connection and a plain port never answers a TLS handshake, which read as a network
   * fault or a hung Redis; and the JDK's certificate errors do not say what to do.
   */
  private String tlsHint(Throwable e) {
    boolean tls = address.uris().stream().anyMatch(RedisURI::isSsl);
    if (causedBy(e, SSLHandshakeException.class, "certificate_required")) {
      return "; the server asks for a client certificate (tls-auth-clients), which this store"
          + " does not send";
    }
    if (causedBy(e, SSLHandshakeException.class, null)) {
      return "; the server's TLS certificate was refused: trust its CA (a trust store given with"
          + " -Djavax.net.ssl.trustStore) or relax the URI's ?verifyPeer=CA|NONE (see README)";
    }
    if (tls && causedBy(e, RedisCommandTimeoutException.class, null)) {
      return "; no answer to the TLS handshake: if that port does not speak TLS, use redis://";
    }
    if (!tls && causedBy(e, SocketException.class, "Connection reset")) {
      return "; the connection was reset: if that port speaks only TLS, use rediss://";
    }
    return "";
  }

  /** Whether {@code e}, its causes or (on Cluster, one per seed) suppressed are a {@code type}. */
  private static boolean causedBy(Throwable e, Class<? extends Throwable> type, String message) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (type.isInstance(t)
          && (message == null || String.valueOf(t.getMessage()).contains(message))) {
        return true;
      }
      for (Throwable suppressed : t.getSuppressed()) {
        if (causedBy(suppressed, type, message)) {
          return true;
        }
      }
    }
    return false;
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return root == e ? message : e.getMessage() + " (" + message + ")";
  }

  /**
   * Configures a {@link RedisStore}. Not thread-safe; {@link #build()} copies the settings, so a
   * built store never changes.
   */
  public static final class Builder {

    private final RedisAddress address;
    private String keyPrefix = DEFAULT_KEY_PREFIX;
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;

    private Builder(String uri) {
      this.address = RedisAddress.parse(uri);
    }

    /** The prefix of every Redis key and channel the store uses; default {@code idem:}. */
    public Builder keyPrefix(String keyPrefix) {
      Objects.requireNonNull(keyPrefix, "keyPrefix");
      if (keyPrefix.contains("{") || keyPrefix.contains("}")) {
        // A hash tag in the prefix would put every key in one Cluster slot.
        throw new IllegalArgumentException("keyPrefix must not contain { or }: " + keyPrefix);
      }
      this.keyPrefix = keyPrefix;
      return this;
    }

    /**
     * How long one command may take before it fails with a {@link StoreException}; default 1 s.
     * Keep it short: a request waits this long for a hung Redis before the fail mode applies.
     */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = positive("commandTimeout", commandTimeout);
      return this;
    }

    /** How long connecting may take; default 2 s. */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = positive("connectTimeout", connectTimeout);
      return this;
    }

    private static Duration positive(String name, Duration value) {
      Objects.requireNonNull(value, name);
      if (value.isZero() || value.isNegative()) {
        throw new IllegalArgumentException(name + " must be positive: " + value);
      }
      return value;
    }

    /**
     * Connects, loads the scripts and subscribes to completion notifications.
     *
     * @throws StoreException if Redis cannot be reached; the message names the address, never a
     *     password
     */
    public RedisStore build() {
      return new RedisStore(this);
    }
  }
}
