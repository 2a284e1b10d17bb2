package dev.idempotency.memory;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoredResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The embedded store: one JVM, bounded in entries, expiring by an injected {@link Clock}.
 * Thread-safe; every operation is atomic per key.
 *
 * <p>When full, expired records are dropped first, then the records closest to expiry. An
 * in-flight record is never evicted while its lock is live, so a full store answers new keys by
 * evicting completed ones, never by letting a key execute twice while its first run is going.
 */
public final class MemoryStore implements IdempotencyStore {

  /** The default bound: 100,000 records. */
  public static final int DEFAULT_MAX_ENTRIES = 100_000;

  private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, CompletableFuture<Void>> watchers =
      new ConcurrentHashMap<>();
  private final AtomicInteger evicting = new AtomicInteger();
  private final int maxEntries;
  private final Clock clock;

  public MemoryStore() {
    this(DEFAULT_MAX_ENTRIES, Clock.systemUTC());
  }

  public MemoryStore(int maxEntries, Clock clock) {
    if (maxEntries < 1) {
      throw new IllegalArgumentException("maxEntries must be positive: " + maxEntries);
    }
    this.maxEntries = maxEntries;
    this.clock = clock;
  }

  private record Entry(
      String requestHash,
      long token,
      Instant created,
      Instant locked,
      Instant expires,
      StoredResponse response) {

    boolean inFlight() {
      return response == null;
    }
  }

  @Override
  public Acquisition acquire(
      String key, String requestHash, Duration lockTimeout, Duration retention) {
    Instant now = clock.instant();
    // A live record is answered from a plain read: replays of one hot key do not queue on the
    // lock of its map bin. Only a claim (no record, or a dead one) needs compute().
    Entry live = entries.get(key);
    if (live != null && live.expires.isAfter(now)) {
      return answer(live, requestHash, now);
    }
    Acquisition[] result = new Acquisition[1];
    entries.compute(
        key,
        (k, e) -> {
          if (e == null || !e.expires.isAfter(now)) {
            // An in-flight record past its lock belongs to a dead owner: take it over.
            long token = newToken();
            result[0] = new Acquisition.Acquired(token, e != null && e.inFlight());
            return new Entry(requestHash, token, now, now, now.plus(lockTimeout), null);
          }
          result[0] = answer(e, requestHash, now);
          return e;
        });
    if (entries.size() > maxEntries) {
      evict(now);
    }
    return result[0];
  }

  private static Acquisition answer(Entry live, String requestHash, Instant now) {
    if (!live.requestHash.equals(requestHash)) {
      return Acquisition.MISMATCH;
    }
    if (!live.inFlight()) {
      return new Acquisition.Completed(live.response);
    }
    return new Acquisition.InFlight(Duration.between(now, live.expires));
  }

  private static long newToken() {
    long token;
    do {
      token = ThreadLocalRandom.current().nextLong();
    } while (token == 0);
    return token;
  }

  @Override
  public boolean complete(String key, long token, StoredResponse response, Duration retention) {
    Instant now = clock.instant();
    boolean[] done = new boolean[1];
    entries.computeIfPresent(
        key,
        (k, e) -> {
          if (!owns(e, token, now)) {
            return e;
          }
          done[0] = true;
          return new Entry(e.requestHash, token, e.created, e.locked, now.plus(retention), response);
        });
    if (done[0]) {
      wake(key);
    }
    return done[0];
  }

  @Override
  public boolean release(String key, long token) {
    Instant now = clock.instant();
    boolean[] done = new boolean[1];
    entries.computeIfPresent(
        key,
        (k, e) -> {
          if (!owns(e, token, now)) {
            return e;
          }
          done[0] = true;
          return null;
        });
    if (done[0]) {
      wake(key);
    }
    return done[0];
  }

  @Override
  public boolean renew(String key, long token, Duration lockTimeout) {
    Instant now = clock.instant();
    boolean[] done = new boolean[1];
    entries.computeIfPresent(
        key,
        (k, e) -> {
          if (!owns(e, token, now)) {
            return e;
          }
          done[0] = true;
          return new Entry(e.requestHash, token, e.created, now, now.plus(lockTimeout), null);
        });
    return done[0];
  }

  /**
   * A token owns a key while its lock is in flight. Past its expiry it still owns it until
   * someone else takes over: a slow owner may finish if nobody recovered its key.
   */
  private static boolean owns(Entry e, long token, Instant now) {
    return e.inFlight() && e.token == token;
  }

  @Override
  public Optional<RecordInfo> inspect(String key) {
    Instant now = clock.instant();
    Entry e = entries.get(key);
    if (e == null || (!e.inFlight() && !e.expires.isAfter(now))) {
      return Optional.empty();
    }
    return Optional.of(info(key, e, now));
  }

  private static RecordInfo info(String key, Entry e, Instant now) {
    return new RecordInfo(
        key,
        e.inFlight() ? RecordInfo.State.IN_FLIGHT : RecordInfo.State.COMPLETED,
        e.requestHash,
        Duration.between(e.created, now),
        e.inFlight() ? Duration.between(e.locked, now) : null,
        Duration.between(now, e.expires),
        e.inFlight() ? 0 : e.response.status(),
        e.inFlight() ? 0 : e.response.body().length);
  }

  @Override
  public boolean purge(String key) {
    boolean removed = entries.remove(key) != null;
    if (removed) {
      wake(key);
    }
    return removed;
  }

  @Override
  public List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit) {
    Instant now = clock.instant();
    List<RecordInfo> found = new ArrayList<>();
    for (Map.Entry<String, Entry> me : entries.entrySet()) {
      Entry e = me.getValue();
      if (e.inFlight() && Duration.between(e.locked, now).compareTo(olderThan) >= 0) {
        found.add(info(me.getKey(), e, now));
      }
    }
    found.sort(Comparator.comparing(RecordInfo::lockAge).reversed());
    return found.size() > limit ? List.copyOf(found.subList(0, limit)) : found;
  }

  @Override
  public CompletableFuture<Void> watch(String key) {
    return watchers.computeIfAbsent(key, k -> new CompletableFuture<>());
  }

  private void wake(String key) {
    CompletableFuture<Void> f = watchers.remove(key);
    if (f != null) {
      f.complete(null);
    }
  }

  /** How many records are held, expired ones included until they are evicted. */
  public int size() {
    return entries.size();
  }

  private void evict(Instant now) {
    if (!evicting.compareAndSet(0, 1)) {
      return;
    }
    try {
      entries.entrySet().removeIf(me -> !me.getValue().expires.isAfter(now)
          && !me.getValue().inFlight());
      int excess = entries.size() - maxEntries;
      if (excess <= 0) {
        return;
      }
      // Drop about a tenth more than needed, so eviction does not run on every acquire. The
      // cut-off is found on a primitive array: sorting the entries themselves cost more than
      // the filter's own work per request in a profile.
      int toDrop = excess + maxEntries / 10;
      long[] expiries = entries.values().stream()
          .filter(r -> !r.inFlight() || !r.expires.isAfter(now))
          .mapToLong(r -> r.expires.toEpochMilli())
          .toArray();
      if (expiries.length == 0) {
        return;
      }
      Arrays.sort(expiries);
      long cutOff = expiries[Math.min(toDrop, expiries.length) - 1];
      int[] dropped = {0};
      entries.entrySet().removeIf(me -> {
        Entry r = me.getValue();
        if (dropped[0] < toDrop && (!r.inFlight() || !r.expires.isAfter(now))
            && r.expires.toEpochMilli() <= cutOff) {
          dropped[0]++;
          return true;
        }
        return false;
      });
    } finally {
      evicting.set(0);
    }
  }

  @Override
  public String name() {
    return "memory";
  }
}
