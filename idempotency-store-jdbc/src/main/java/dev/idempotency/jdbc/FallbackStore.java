package dev.idempotency.jdbc;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.Acquisition.Acquired;
import dev.idempotency.spi.Acquisition.Completed;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreStatus;
import dev.idempotency.spi.StoredResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code redis+jdbc} store (SPEC §8): a fast primary store (Redis) backed by a
 * {@link JdbcStore}.
 *
 * <ul>
 *   <li>Requests go to the primary. When it fails ({@link StoreException}: connection lost,
 *       timeout), the call is answered by the JDBC store, and after {@code failureThreshold}
 *       failures in a row a circuit breaker opens: requests go straight to JDBC without paying a
 *       Redis timeout. After {@code coolDown}, one request probes Redis (half-open); its success
 *       brings traffic back.
 *   <li>Completed records kept at least {@code mirrorMinRetention} (keyed records, not
 *       fingerprint ones) are copied to JDBC by a bounded write-behind queue on a background
 *       thread, in batches, off the request path; when the queue is full a record is dropped and
 *       counted. Until its copy lands, a fallback acquire in this JVM answers from the queue.
 *   <li>A claim is completed, released and renewed on the store that issued its token. If the
 *       primary dies while a request runs, its {@code complete} writes the response to JDBC.
 *   <li>When the primary grants a claim, the JDBC store is read once (a primary-key SELECT):
 *       a record it holds — completed or claimed while Redis was away, or mirrored before Redis
 *       lost its data — wins, and a completed one is copied back to Redis. For one cool-down
 *       and one lock timeout after the primary failed or came back, the key is claimed on JDBC
 *       too, so a duplicate claiming it on JDBC alone at that moment cannot run as well.
 *   <li>Both stores down: {@link StoreException}; the filter's fail mode answers. While the JDBC
 *       breaker is open too, that costs no timeout either.
 * </ul>
 *
 * <p>The window that remains: a claim in flight on Redis when it dies can be executed again if a
 * retry of it reaches JDBC before the first execution finished; and a record completed in
 * another JVM less than that JVM's mirror lag before the kill is not in JDBC yet.
 *
 * <p>Closing this store closes both stores it wraps. Thread-safe.
 */
public final class FallbackStore implements IdempotencyStore {

  /** A circuit breaker's state. */
  public enum Breaker {
    /** Calls go to the store. */
    CLOSED,
    /** The store failed: calls skip it until the cool-down is over. */
    OPEN,
    /** One probe call is trying the store; the others still skip it. */
    HALF_OPEN
  }

  /**
   * What the store is doing, for metrics and dashboards. Immutable.
   *
   * @param breaker the primary (Redis) breaker
   * @param serving the name of the store new requests go to: the primary's, or {@code jdbc}
   * @param jdbcBreaker the breaker in front of the JDBC store
   * @param fallbacks claims answered by JDBC because the primary was down: acquires, and
   *     completes of primary claims whose response went to JDBC
   * @param mirrored records copied to JDBC by the write-behind queue
   * @param mirrorDropped records not copied: queue full, or JDBC failing
   * @param mirrorPending records waiting in the queue or being written
   * @param rescued claims made on the primary whose {@code complete} found it dead and wrote
   *     the response to JDBC instead
   * @param lastMirrorLag time from a completion to its copy's commit, for the last batch
   * @param maxMirrorLag the largest such time seen
   */
  public record State(
      Breaker breaker,
      String serving,
      Breaker jdbcBreaker,
      long fallbacks,
      long mirrored,
      long mirrorDropped,
      int mirrorPending,
      long rescued,
      Duration lastMirrorLag,
      Duration maxMirrorLag) {}

  private static final Logger log = LoggerFactory.getLogger(FallbackStore.class);
  private static final String NAME = "redis+jdbc";
  private static final int MIRROR_BATCH = 128;
  private static final long WATCH_POLL_MS = 250;
  /** Between tries to build the JDBC store when PostgreSQL was down at start-up. */
  private static final long RECONNECT_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** Longer than any mirror lag: a purged key's late copy must find the tombstone. */
  private static final Duration TOMBSTONE_TTL = Duration.ofMinutes(1);

  private final IdempotencyStore primary;
  /** Builds the JDBC store when it was unreachable at start-up; null once built or if given. */
  private final java.util.function.Supplier<JdbcStore> connectSecondary;
  private volatile JdbcStore secondary;
  private final AtomicBoolean connectingSecondary = new AtomicBoolean();
  private volatile long nextConnectNanos = System.nanoTime();
  private final Clock clock;
  private final CircuitBreaker primaryBreaker;
  private final CircuitBreaker secondaryBreaker;
  private final Duration coolDown;
  private final Duration mirrorMinRetention;
  private final int maxRoutes;
  private final ConcurrentHashMap<Claim, Route> routes = new ConcurrentHashMap<>();
  private final ArrayBlockingQueue<Pending> mirrorQueue;
  private final ConcurrentHashMap<String, CompletedRecord> mirrorPending =
      new ConcurrentHashMap<>();
  private final Thread mirrorThread;
  private final AtomicLong fallbacks = new AtomicLong();
  private final AtomicLong mirrored = new AtomicLong();
  private final AtomicLong mirrorDropped = new AtomicLong();
  private final AtomicLong rescued = new AtomicLong();
  private final AtomicBoolean sweeping = new AtomicBoolean();
  private volatile int mirrorInProgress;
  private volatile long lastMirrorLagNanos;
  private volatile long maxMirrorLagNanos;
  private volatile boolean mirrorFailing;
  private volatile boolean closed;
  /**
   * Until when ({@link System#nanoTime()}) a claim the primary grants is taken on JDBC as well:
   * one cool-down and one lock timeout past the primary's last failure or return. Meanwhile
   * requests of this JVM (its breaker open, or one failed call) or of another (whose breaker
   * closes at its own time) may be claiming keys on JDBC alone, and a read of JDBC could miss a
   * claim being made there: a duplicate on each store would both run.
   */
  private volatile long claimBothUntilNanos = System.nanoTime();
  private volatile long lockTimeoutNanos = Duration.ofSeconds(30).toNanos();

  /** Which claim: a key and the token its owner holds. */
  private record Claim(String key, long token) {}

  /**
   * Where a claim was made, the request hash a mirror needs, and when its lock runs out at the
   * earliest ({@link System#nanoTime()}): the store's clock started the lock no earlier than the
   * call that took or renewed it was sent, so until then nobody can have taken the key over.
   */
  private record Route(
      boolean primary,
      String requestHash,
      long lockHeldUntilNanos,
      java.time.OffsetDateTime tombstoneSeen,
      long secondaryToken) {

    boolean lockMayHaveRunOut() {
      return System.nanoTime() - lockHeldUntilNanos >= 0;
    }
  }

  private record Pending(CompletedRecord record, long enqueuedNanos) {}

  private FallbackStore(Builder builder) {
    this.primary = builder.primary;
    this.secondary = builder.secondary;
    this.connectSecondary = builder.connectSecondary;
    this.clock = builder.clock;
    this.coolDown = builder.coolDown;
    this.primaryBreaker = new CircuitBreaker(clock, builder.failureThreshold, coolDown);
    this.secondaryBreaker = new CircuitBreaker(clock, builder.failureThreshold, coolDown);
    this.mirrorMinRetention = builder.mirrorMinRetention;
    this.maxRoutes = builder.maxRoutes;
    this.mirrorQueue = new ArrayBlockingQueue<>(builder.mirrorQueueCapacity);
    this.mirrorThread = new Thread(this::mirrorLoop, "idempotency-mirror");
    mirrorThread.setDaemon(true);
    mirrorThread.start();
  }

  /** A builder over a primary store (a {@code RedisStore}) and the JDBC store behind it. */
  public static Builder builder(IdempotencyStore primary, JdbcStore secondary) {
    return new Builder(primary, Objects.requireNonNull(secondary, "secondary"), null);
  }

  /**
   * A builder over a primary store and a JDBC store that could not be built yet (PostgreSQL
   * unreachable at start-up): {@code connect} is called again as the JDBC breaker allows.
   */
  static Builder builder(IdempotencyStore primary,
      java.util.function.Supplier<JdbcStore> connect) {
    return new Builder(primary, null, Objects.requireNonNull(connect, "connect"));
  }

  @Override
  public Acquisition acquire(
      String key, String requestHash, Duration lockTimeout, Duration retention) {
    long sentNanos = System.nanoTime();
    if (lockTimeoutNanos != lockTimeout.toNanos()) {
      lockTimeoutNanos = lockTimeout.toNanos();
    }
    if (primaryBreaker.allows()) {
      Acquisition acquisition;
      try {
        acquisition = primary.acquire(key, requestHash, lockTimeout, retention);
      } catch (StoreException e) {
        primaryFailed("acquire", e);
        return acquireOnSecondary(key, requestHash, lockTimeout, retention, e);
      }
      primarySucceeded();
      if (acquisition instanceof Acquired acquired) {
        if (System.nanoTime() - claimBothUntilNanos < 0) {
          Optional<Acquisition> onBoth =
              claimOnSecondaryToo(key, requestHash, acquired, lockTimeout, retention, sentNanos);
          if (onBoth.isPresent()) {
            return onBoth.get();
          }
        }
        return checkSecondary(key, requestHash, acquired, lockTimeout, sentNanos);
      }
      if (acquisition instanceof Acquisition.InFlight) {
        return completedOnSecondary(key, requestHash).orElse(acquisition);
      }
      return acquisition;
    }
    return acquireOnSecondary(key, requestHash, lockTimeout, retention, null);
  }

  /**
   * The primary granted a claim. JDBC may still hold the key: completed or claimed while the
   * primary was away, or mirrored before the primary lost its data. What it holds wins; then a
   * completion of this instance still on its way to JDBC (the primary restarted empty), unless
   * the key was purged since (a tombstone in JDBC).
   */
  private Acquisition checkSecondary(
      String key, String requestHash, Acquired acquired, Duration lockTimeout, long sentNanos) {
    Optional<JdbcStore.Found> found = Optional.empty();
    if (secondaryBreaker.allows()) {
      try {
        found = secondary().find(key, requestHash);
        secondaryBreaker.onSuccess();
      } catch (StoreException e) {
        secondaryFailed("find", e);
      }
    }
    CompletedRecord queued = mirrorPending.get(key);
    if (found.isPresent() && found.get().held() == null && queued != null) {
      mirrorPending.remove(key, queued);
      queued = null;
    }
    if (found.isPresent() && found.get().held() != null) {
      Acquisition held = found.get().held();
      repairPrimary(key, acquired, held, found.get().expiresIn());
      return held;
    }
    if (queued != null) {
      Acquisition held = queued.requestHash().equals(requestHash)
          ? new Completed(queued.response())
          : Acquisition.MISMATCH;
      repairPrimary(key, acquired, held, queued.retention());
      return held;
    }
    java.time.OffsetDateTime tombstoneSeen =
        found.isPresent() && found.get().held() == null ? found.get().tombstoneAt() : null;
    route(key, acquired.token(), true, requestHash, sentNanos + lockTimeout.toNanos(),
        tombstoneSeen, 0);
    return acquired;
  }

  /**
   * In the window after the primary failed or came back ({@link #claimBothUntilNanos}): the key
   * is claimed on JDBC too, so a duplicate claiming it on JDBC alone is fenced off by JDBC's own
   * claim. JDBC's answer wins; a claim on both is completed, released and renewed on both.
   * Empty when this cannot decide (JDBC failing, a completed record to copy back, a completion
   * of this instance still queued for JDBC): the caller reads JDBC as outside the window.
   */
  private Optional<Acquisition> claimOnSecondaryToo(String key, String requestHash,
      Acquired acquired, Duration lockTimeout, Duration retention, long sentNanos) {
    if (mirrorPending.containsKey(key) || !secondaryBreaker.allows()) {
      return Optional.empty();
    }
    Acquisition onSecondary;
    try {
      onSecondary = secondary().acquire(key, requestHash, lockTimeout, retention);
      secondaryBreaker.onSuccess();
    } catch (StoreException e) {
      secondaryFailed("acquire", e);
      return Optional.empty();
    }
    if (onSecondary instanceof Acquired claimed) {
      route(key, acquired.token(), true, requestHash, sentNanos + lockTimeout.toNanos(), null,
          claimed.token());
      return Optional.of(acquired);
    }
    if (onSecondary instanceof Completed) {
      return Optional.empty();
    }
    repairPrimary(key, acquired, onSecondary, null);
    return Optional.of(onSecondary);
  }

  /**
   * What JDBC holds for a key the primary reports in flight, if it is a completed record: the
   * request completed there while the primary was away, and the primary's claim is one nobody
   * holds any more (an acquire that timed out while Redis was paused, run when it resumed),
   * which would answer in flight until its lock ran out.
   */
  private Optional<Acquisition> completedOnSecondary(String key, String requestHash) {
    if (!secondaryBreaker.allows()) {
      return Optional.empty();
    }
    try {
      Optional<JdbcStore.Found> found = secondary().find(key, requestHash);
      secondaryBreaker.onSuccess();
      return found.map(JdbcStore.Found::held).filter(held -> held instanceof Completed);
    } catch (StoreException e) {
      secondaryFailed("find", e);
      return Optional.empty();
    }
  }

  /** Gives the primary what the other copy holds: the response, or the claim back. */
  private void repairPrimary(String key, Acquired acquired, Acquisition held, Duration expiresIn) {
    try {
      if (held instanceof Completed completed) {
        primary.complete(key, acquired.token(), completed.response(), expiresIn);
      } else {
        primary.release(key, acquired.token());
      }
    } catch (StoreException e) {
      // The claim on the primary expires by itself; JDBC keeps answering for the key.
      primaryFailed("repair", e);
    }
  }

  private Acquisition acquireOnSecondary(
      String key,
      String requestHash,
      Duration lockTimeout,
      Duration retention,
      StoreException primaryError) {
    CompletedRecord queued = mirrorPending.get(key);
    if (queued != null) {
      // Completed here moments ago and still on its way to JDBC.
      return queued.requestHash().equals(requestHash)
          ? new Completed(queued.response())
          : Acquisition.MISMATCH;
    }
    if (!secondaryBreaker.allows()) {
      throw bothDown("acquire", primaryError, null);
    }
    Acquisition acquisition;
    long sentNanos = System.nanoTime();
    try {
      acquisition = secondary().acquire(key, requestHash, lockTimeout, retention);
    } catch (StoreException e) {
      secondaryFailed("acquire", e);
      throw bothDown("acquire", primaryError, e);
    }
    secondaryBreaker.onSuccess();
    fallbacks.incrementAndGet();
    if (acquisition instanceof Acquired acquired) {
      route(key, acquired.token(), false, requestHash, sentNanos + lockTimeout.toNanos(), null,
          0);
    }
    return acquisition;
  }

  @Override
  public boolean complete(String key, long token, StoredResponse response, Duration retention) {
    Claim claim = new Claim(key, token);
    Route route = routes.get(claim);
    boolean done;
    if (route == null) {
      done = completeUnrouted(key, token, response, retention);
    } else if (route.primary()) {
      done = completeOnPrimary(key, token, route, response, retention);
    } else {
      done = secondary().complete(key, token, response, retention);
    }
    routes.remove(claim);
    return done;
  }

  private boolean completeOnPrimary(
      String key, long token, Route route, StoredResponse response, Duration retention) {
    CompletedRecord record = new CompletedRecord(
        key, route.requestHash(), token, response, retention, route.tombstoneSeen());
    StoreException primaryError = null;
    boolean primaryAnswered = false;
    if (primaryBreaker.allows()) {
      if (!primary.takes(response)) {
        // Too large for Redis: not stored anywhere and the claims released, as by the redis
        // store alone, not "rescued" here as if Redis had lost the claim.
        try {
          primary.complete(key, token, response, retention);
        } catch (StoreException e) {
          primaryFailed("release", e); // the claim runs out by itself
        }
        if (route.secondaryToken() != 0) {
          onSecondaryToo("release", () -> secondary().release(key, route.secondaryToken()));
        }
        return false;
      }
      try {
        boolean done = primary.complete(key, token, response, retention);
        primaryAnswered = true;
        primarySucceeded();
        if (done && route.secondaryToken() != 0) {
          onSecondaryToo("complete",
              () -> secondary().complete(key, route.secondaryToken(), response, retention));
        } else if (done && retention.compareTo(mirrorMinRetention) >= 0) {
          enqueueMirror(record);
        }
        if (done || route.lockMayHaveRunOut()) {
          return done;
        }
        // Nobody can have taken the key over while the lock held: the primary lost the claim
        // (restarted empty, failed over), or an operator purged the key (JDBC then holds the
        // purge's tombstone, which the copy below does not replace).
        log.warn("{} no longer held the claim on key {} (restarted without its data?): storing "
            + "the response in jdbc", primary.name(), shown(key));
      } catch (StoreException e) {
        primaryFailed("complete", e);
        primaryError = e;
      }
    }
    // The primary went away while the request ran: keep its response where the fallback looks.
    // Not once the claim's lock may have run out: another owner may have taken the key over on
    // the primary, and JDBC, which never saw that claim, could not fence this write off (unless
    // it holds a claim of its own, below).
    if (route.lockMayHaveRunOut() && route.secondaryToken() == 0) {
      // A failure, not a fenced complete: the filter retries it on the primary, with the token,
      // while the lock could still hold, and counts it either way.
      throw new StoreException(primary.name(), "complete failed and the claim on key "
          + shown(key) + " may have been taken over (its lock ran out): not stored in jdbc",
          primaryError);
    }
    if (!secondaryBreaker.allows()) {
      if (primaryAnswered) {
        return false;
      }
      // Redis failed, or its breaker did not let the call through: the filter retries.
      throw bothDown("complete", primaryError, null);
    }
    try {
      boolean written = route.secondaryToken() != 0
          ? secondary().complete(key, route.secondaryToken(), response, retention)
          : secondary().mirror(List.of(record))[0];
      secondaryBreaker.onSuccess();
      fallbacks.incrementAndGet();
      if (written) {
        rescued.incrementAndGet();
      }
      return written;
    } catch (StoreException e) {
      secondaryFailed("complete", e);
      throw bothDown("complete", primaryError, e);
    }
  }

  /** A token this instance has no route for (its route was swept): try both stores. */
  private boolean completeUnrouted(
      String key, long token, StoredResponse response, Duration retention) {
    if (primaryBreaker.allows()) {
      try {
        if (primary.complete(key, token, response, retention)) {
          primarySucceeded();
          return true;
        }
      } catch (StoreException e) {
        primaryFailed("complete", e);
      }
    }
    return secondary().complete(key, token, response, retention);
  }

  @Override
  public boolean release(String key, long token) {
    Claim claim = new Claim(key, token);
    Route route = routes.get(claim);
    boolean done;
    if (route != null && !route.primary()) {
      done = secondary().release(key, token);
    } else if (route != null) {
      if (route.secondaryToken() != 0) {
        onSecondaryToo("release", () -> secondary().release(key, route.secondaryToken()));
      }
      done = onPrimary("release", () -> primary.release(key, token));
    } else {
      done = releaseUnrouted(key, token);
    }
    routes.remove(claim);
    return done;
  }

  private boolean releaseUnrouted(String key, long token) {
    if (primaryBreaker.allows()) {
      try {
        if (primary.release(key, token)) {
          primarySucceeded();
          return true;
        }
      } catch (StoreException e) {
        primaryFailed("release", e);
      }
    }
    return secondary().release(key, token);
  }

  @Override
  public boolean renew(String key, long token, Duration lockTimeout) {
    Claim claim = new Claim(key, token);
    Route route = routes.get(claim);
    boolean primaryRoute = route == null || route.primary();
    long sentNanos = System.nanoTime();
    if (route != null && route.secondaryToken() != 0) {
      onSecondaryToo("renew", () -> secondary().renew(key, route.secondaryToken(), lockTimeout));
    }
    boolean done =
        primaryRoute
            ? onPrimary("renew", () -> primary.renew(key, token, lockTimeout))
            : secondary().renew(key, token, lockTimeout);
    if (done && route != null) {
      routes.replace(claim, route,
          new Route(primaryRoute, route.requestHash(), sentNanos + lockTimeout.toNanos(),
              route.tombstoneSeen(), route.secondaryToken()));
    }
    return done;
  }

  /** A call that only the primary can answer (its claim lives there). */
  private boolean onPrimary(String operation, java.util.function.BooleanSupplier call) {
    if (!primaryBreaker.allows()) {
      throw new StoreException(
          NAME, operation + ": the claim is on redis, which is unavailable (circuit open)", null);
    }
    try {
      boolean done = call.getAsBoolean();
      primarySucceeded();
      return done;
    } catch (StoreException e) {
      primaryFailed(operation, e);
      throw e;
    }
  }

  @Override
  public Optional<RecordInfo> inspect(String key) {
    boolean primaryAnswered = false;
    if (primaryBreaker.allows()) {
      try {
        Optional<RecordInfo> info = primary.inspect(key);
        primarySucceeded();
        if (info.isPresent()) {
          return info;
        }
        primaryAnswered = true;
      } catch (StoreException e) {
        primaryFailed("inspect", e);
      }
    }
    try {
      return secondary().inspect(key);
    } catch (StoreException e) {
      if (primaryAnswered) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /**
   * Purges the key from both stores. If either cannot be reached this throws, after purging the
   * other: a record left in Redis is replayed once Redis is back, and one left in JDBC is copied
   * back to Redis by the next claim, so "purged" is said only when both are.
   */
  @Override
  public boolean purge(String key) {
    boolean purged = false;
    StoreException primaryError = null;
    StoreException secondaryError = null;
    mirrorPending.remove(key);
    try {
      purged = onPrimary("purge", () -> primary.purge(key));
    } catch (StoreException e) {
      primaryError = e;
    }
    try {
      purged |= secondary().purgeLeavingTombstone(key, TOMBSTONE_TTL);
    } catch (StoreException e) {
      secondaryError = e;
    }
    if (primaryError != null && secondaryError != null) {
      throw bothDown("purge", primaryError, secondaryError);
    }
    if (primaryError != null || secondaryError != null) {
      String failed = primaryError != null ? primary.name() : JdbcStore.NAME;
      String done = primaryError != null ? JdbcStore.NAME : primary.name();
      StoreException cause = primaryError != null ? primaryError : secondaryError;
      throw new StoreException(NAME, "purge: done on " + done + ", but " + failed
          + " failed and may still hold the record (" + cause.getMessage() + "); purge again",
          cause);
    }
    return purged;
  }

  @Override
  public List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit) {
    Map<String, RecordInfo> found = new LinkedHashMap<>();
    StoreException error = null;
    try {
      if (primaryBreaker.allows()) {
        primary.inFlightOlderThan(olderThan, limit).forEach(r -> found.put(r.key(), r));
        primarySucceeded();
      }
    } catch (StoreException e) {
      primaryFailed("inFlightOlderThan", e);
      error = e;
    }
    try {
      secondary().inFlightOlderThan(olderThan, limit).forEach(r -> found.putIfAbsent(r.key(), r));
    } catch (StoreException e) {
      if (error != null) {
        throw bothDown("inFlightOlderThan", error, e);
      }
    }
    return found.values().stream()
        .sorted(Comparator.comparing(RecordInfo::lockAge).reversed())
        .limit(limit)
        .toList();
  }

  /**
   * The primary's notification while it serves, completed after at most 250 ms anyway: a key
   * held on JDBC is never announced by Redis, so waiters look again. Null while JDBC serves
   * (the filter then polls with back-off).
   */
  @Override
  public CompletableFuture<Void> watch(String key) {
    if (primaryBreaker.state() != Breaker.CLOSED) {
      return null;
    }
    CompletableFuture<Void> notified;
    try {
      notified = primary.watch(key);
    } catch (StoreException e) {
      return null;
    }
    return notified == null
        ? null
        : notified.completeOnTimeout(null, WATCH_POLL_MS, TimeUnit.MILLISECONDS);
  }

  private void route(String key, long token, boolean onPrimary, String requestHash,
      long lockHeldUntilNanos, java.time.OffsetDateTime tombstoneSeen, long secondaryToken) {
    routes.put(new Claim(key, token),
        new Route(onPrimary, requestHash, lockHeldUntilNanos, tombstoneSeen, secondaryToken));
    if (routes.size() > maxRoutes && sweeping.compareAndSet(false, true)) {
      try {
        // Owners that never came back (their lock ran out long ago) must not grow the map.
        routes.values().removeIf(Route::lockMayHaveRunOut);
      } finally {
        sweeping.set(false);
      }
    }
  }

  private void enqueueMirror(CompletedRecord record) {
    mirrorPending.put(record.key(), record);
    if (!mirrorQueue.offer(new Pending(record, System.nanoTime()))) {
      mirrorPending.remove(record.key(), record);
      long dropped = mirrorDropped.incrementAndGet();
      if (dropped == 1 || dropped % 1000 == 0) {
        log.warn("jdbc mirror queue full: {} completed records not copied so far", dropped);
      }
    }
  }

  private void mirrorLoop() {
    List<Pending> batch = new ArrayList<>(MIRROR_BATCH);
    while (!closed || !mirrorQueue.isEmpty()) {
      Pending first;
      try {
        first = mirrorQueue.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        if (closed) {
          break;
        }
        continue;
      }
      if (first == null) {
        continue;
      }
      batch.add(first);
      mirrorQueue.drainTo(batch, MIRROR_BATCH - 1);
      mirrorInProgress = batch.size();
      try {
        writeMirror(batch);
      } finally {
        for (Pending p : batch) {
          mirrorPending.remove(p.record().key(), p.record());
        }
        mirrorInProgress = 0;
        batch.clear();
      }
    }
  }

  private void writeMirror(List<Pending> batch) {
    if (!secondaryBreaker.allows()) {
      mirrorDropped.addAndGet(batch.size());
      return;
    }
    List<CompletedRecord> records = new ArrayList<>(batch.size());
    batch.forEach(p -> records.add(p.record()));
    int written = 0;
    try {
      for (boolean w : secondary().mirror(records)) {
        written += w ? 1 : 0;
      }
      secondaryBreaker.onSuccess();
    } catch (StoreException e) {
      secondaryFailed("mirror", e);
      mirrorDropped.addAndGet(batch.size());
      if (!mirrorFailing) {
        mirrorFailing = true;
        log.warn("copying completed records to jdbc failed; dropping them until it works: {}",
            e.getMessage());
      }
      return;
    }
    if (mirrorFailing) {
      mirrorFailing = false;
      log.info("copying completed records to jdbc works again");
    }
    // A copy JDBC refused (it holds a live record for the key, or a purge's tombstone) is
    // neither copied nor lost.
    mirrored.addAndGet(written);
    long lag = System.nanoTime() - batch.get(0).enqueuedNanos();
    lastMirrorLagNanos = lag;
    if (lag > maxMirrorLagNanos) {
      maxMirrorLagNanos = lag;
    }
  }

  /** A key as logs show it: its first 12 characters, as the filter's (docs/observability.md). */
  private static String shown(String key) {
    return key.length() > 12 ? key.substring(0, 12) : key;
  }

  private void primarySucceeded() {
    if (primaryBreaker.onSuccess()) {
      claimBothFromNow();
      log.info("{} answers again: traffic is back on it", primary.name());
    }
  }

  private void claimBothFromNow() {
    claimBothUntilNanos = System.nanoTime() + coolDown.toNanos() + lockTimeoutNanos;
  }

  /** The JDBC half of a claim held on both stores: its failure leaves it to expire. */
  private void onSecondaryToo(String operation, java.util.function.BooleanSupplier call) {
    try {
      call.getAsBoolean();
      secondaryBreaker.onSuccess();
    } catch (StoreException e) {
      secondaryFailed(operation, e);
    }
  }

  private void primaryFailed(String operation, StoreException e) {
    claimBothFromNow();
    if (primaryBreaker.onFailure()) {
      log.warn("{} failed ({}: {}); serving from jdbc, probing {} every {}",
          primary.name(), operation, e.getMessage(), primary.name(), coolDown);
    } else {
      log.debug("{} {} failed: {}", primary.name(), operation, e.getMessage());
    }
  }

  private void secondaryFailed(String operation, StoreException e) {
    if (secondaryBreaker.onFailure()) {
      log.warn("jdbc failed ({}: {}); skipping it, probing every {}", operation, e.getMessage(),
          coolDown);
    } else {
      log.debug("jdbc {} failed: {}", operation, e.getMessage());
    }
  }

  private StoreException bothDown(
      String operation, StoreException primaryError, StoreException secondaryError) {
    String primaryWhy =
        primaryError == null ? "circuit open" : primaryError.getMessage();
    String secondaryWhy =
        secondaryError == null ? "circuit open" : secondaryError.getMessage();
    StoreException e =
        new StoreException(
            NAME,
            operation + ": both stores unavailable (" + primary.name() + ": " + primaryWhy
                + "; jdbc: " + secondaryWhy + ")",
            secondaryError != null ? secondaryError : primaryError);
    return e;
  }

  /** What the store is doing now. */
  public State state() {
    Breaker breaker = primaryBreaker.state();
    return new State(
        breaker,
        breaker == Breaker.CLOSED ? primary.name() : JdbcStore.NAME,
        secondaryBreaker.state(),
        fallbacks.get(),
        mirrored.get(),
        mirrorDropped.get(),
        mirrorQueue.size() + mirrorInProgress,
        rescued.get(),
        Duration.ofNanos(lastMirrorLagNanos),
        Duration.ofNanos(maxMirrorLagNanos));
  }

  /** Which store serves, the Redis breaker and the fallback count, for metrics (SPEC §10). */
  @Override
  public StoreStatus status() {
    return new StoreStatus(
        primaryBreaker.state() == Breaker.CLOSED ? primary.name() : JdbcStore.NAME,
        switch (primaryBreaker.state()) {
          case CLOSED -> StoreStatus.Breaker.CLOSED;
          case OPEN -> StoreStatus.Breaker.OPEN;
          case HALF_OPEN -> StoreStatus.Breaker.HALF_OPEN;
        },
        fallbacks.get());
  }

  @Override
  public String name() {
    return NAME;
  }

  /** Writes what the mirror queue still holds (waiting at most 5 s), then closes both stores. */
  @Override
  public void close() {
    closed = true;
    try {
      mirrorThread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    mirrorThread.interrupt();
    try {
      primary.close();
    } finally {
      synchronized (this) {
        if (secondary != null) {
          secondary.close();
        }
      }
    }
  }

  /**
   * The JDBC store; built on first use if PostgreSQL was unreachable at start-up (Redis serves
   * meanwhile, with its claims unchecked against JDBC and its records uncopied), tried again as
   * the JDBC breaker lets calls through.
   */
  private JdbcStore secondary() {
    JdbcStore s = secondary;
    if (s != null) {
      return s;
    }
    // One caller tries, at most once per cool-down; the others fail at once meanwhile.
    if (closed || System.nanoTime() - nextConnectNanos < 0
        || !connectingSecondary.compareAndSet(false, true)) {
      throw new StoreException(JdbcStore.NAME, "unreachable since start-up", null);
    }
    try {
      synchronized (this) {
        if (secondary == null && !closed) {
          secondary = connectSecondary.get();
          log.info("jdbc reached: PostgreSQL backs {} again", primary.name());
        }
      }
      if (secondary == null) {
        throw new StoreException(JdbcStore.NAME, "closed", null);
      }
      return secondary;
    } catch (StoreException e) {
      // Every failed try builds and drops a pool, which logs an error: as the filter's own
      // deferred store, once every 5 s.
      nextConnectNanos = System.nanoTime() + Math.max(coolDown.toNanos(), RECONNECT_NANOS);
      throw e;
    } finally {
      connectingSecondary.set(false);
    }
  }

  /**
   * Configures a {@link FallbackStore}. Not thread-safe; {@link #build()} copies the settings.
   */
  public static final class Builder {

    private final IdempotencyStore primary;
    private final JdbcStore secondary;
    private final java.util.function.Supplier<JdbcStore> connectSecondary;
    private Clock clock = MonotonicClock.INSTANCE;
    private int failureThreshold = 3;
    private Duration coolDown = Duration.ofSeconds(1);
    private int mirrorQueueCapacity = 10_000;
    private Duration mirrorMinRetention = Duration.ofSeconds(1);
    private int maxRoutes = 100_000;

    private Builder(IdempotencyStore primary, JdbcStore secondary,
        java.util.function.Supplier<JdbcStore> connectSecondary) {
      this.primary = Objects.requireNonNull(primary, "primary");
      this.secondary = secondary;
      this.connectSecondary = connectSecondary;
    }

    /**
     * The clock of the circuit breakers (default: one that only moves forward, so a wall clock
     * set back cannot hold a breaker open); tests pass a fake one.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Failures in a row that open a breaker (default 3). */
    public Builder failureThreshold(int failures) {
      if (failures < 1) {
        throw new IllegalArgumentException("failureThreshold must be positive: " + failures);
      }
      this.failureThreshold = failures;
      return this;
    }

    /** How long an open breaker skips its store before one probe tries it (default 1 s). */
    public Builder coolDown(Duration coolDown) {
      if (coolDown.isNegative() || coolDown.isZero()) {
        throw new IllegalArgumentException("coolDown must be positive: " + coolDown);
      }
      this.coolDown = coolDown;
      return this;
    }

    /** How many completed records may wait to be copied to JDBC (default 10,000). */
    public Builder mirrorQueueCapacity(int capacity) {
      if (capacity < 1) {
        throw new IllegalArgumentException("mirrorQueueCapacity must be positive: " + capacity);
      }
      this.mirrorQueueCapacity = capacity;
      return this;
    }

    /**
     * Records kept at least this long are copied to JDBC (default 1 s): keyed records (24 h by
     * default), not fingerprint records, which live one window (100 ms by default).
     */
    public Builder mirrorMinRetention(Duration retention) {
      if (retention.isNegative()) {
        throw new IllegalArgumentException("mirrorMinRetention must not be negative: " + retention);
      }
      this.mirrorMinRetention = retention;
      return this;
    }

    /** Claims whose issuing store is remembered before expired ones are swept (default 100,000). */
    public Builder maxRoutes(int routes) {
      if (routes < 1) {
        throw new IllegalArgumentException("maxRoutes must be positive: " + routes);
      }
      this.maxRoutes = routes;
      return this;
    }

    public FallbackStore build() {
      return new FallbackStore(this);
    }
  }
}
