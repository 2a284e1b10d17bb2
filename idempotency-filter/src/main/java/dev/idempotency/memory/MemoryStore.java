package dev.idempotency.memory;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoredResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The embedded store: one JVM, bounded in entries and in the bytes of the responses it holds,
 * expiring by an injected {@link Clock}. Thread-safe; every operation is atomic per key.
 *
 * <p>When full (either bound), expired records are dropped first, then the records closest to
 * expiry. A response larger than the byte bound on its own is not kept: its claim is released,
 * so a retry executes again, as for one over {@code max-response-bytes}. An
 * in-flight record is never evicted while its lock is live, so a full store answers new keys by
 * evicting completed ones, never by letting a key execute twice while its first run is going.
 * Expiry order is kept cheaply: claims wait in one line per retention, in which records expire
 * in about the order they were claimed, so each claim evicts from the heads of the lines (about
 * one record when full) instead of sorting the store.
 */
public final class MemoryStore implements IdempotencyStore {

  /** The default bound: 100,000 records. */
  public static final int DEFAULT_MAX_ENTRIES = 100_000;

  /**
   * The default bound on the responses held: 128 MiB (bodies and headers). Without one, 100,000
   * responses of up to {@code max-response-bytes} each could fill any heap.
   */
  public static final long DEFAULT_MAX_BYTES = 128L * 1024 * 1024;

  private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, CompletableFuture<Void>> watchers =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Duration, Line> lines = new ConcurrentHashMap<>();
  private final AtomicInteger evicting = new AtomicInteger();
  /** What the held responses weigh ({@link #weight}). */
  private final java.util.concurrent.atomic.AtomicLong bytes =
      new java.util.concurrent.atomic.AtomicLong();
  private final int maxEntries;
  private final long maxBytes;
  private final Clock clock;

  public MemoryStore() {
    this(DEFAULT_MAX_ENTRIES, DEFAULT_MAX_BYTES, Clock.systemUTC());
  }

  public MemoryStore(int maxEntries, Clock clock) {
    this(maxEntries, DEFAULT_MAX_BYTES, clock);
  }

  public MemoryStore(int maxEntries, long maxBytes, Clock clock) {
    if (maxEntries < 1) {
      throw new IllegalArgumentException("maxEntries must be positive: " + maxEntries);
    }
    if (maxBytes < 1) {
      throw new IllegalArgumentException("maxBytes must be positive: " + maxBytes);
    }
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.clock = clock;
  }

  /** A response's share of the byte bound: its body and its headers' text. */
  private static long weight(StoredResponse response) {
    long weight = response.body().length;
    for (Map.Entry<String, List<String>> header : response.headers().entrySet()) {
      for (String value : header.getValue()) {
        weight += header.getKey().length() + value.length() + 4;
      }
    }
    return weight;
  }

  /** Takes a record that held a response off the byte count. */
  private void forget(Entry e) {
    if (e != null && e.response != null) {
      bytes.addAndGet(-weight(e.response));
    }
  }

  /** A key claimed with a token: it names the record while the record carries that token. */
  private record Claim(String key, long token) {}

  /**
   * The claims made with one retention, oldest first. Such records expire in about claim order;
   * a claim whose record is gone is dropped when it reaches the head.
   */
  private static final class Line {
    final ConcurrentLinkedQueue<Claim> claims = new ConcurrentLinkedQueue<>();
    final AtomicInteger count = new AtomicInteger();
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
            forget(e);
            long token = newToken();
            result[0] = new Acquisition.Acquired(token, e != null && e.inFlight());
            return new Entry(requestHash, token, now, now, now.plus(lockTimeout), null);
          }
          result[0] = answer(e, requestHash, now);
          return e;
        });
    if (result[0] instanceof Acquisition.Acquired acquired) {
      Line line = lines.computeIfAbsent(retention, r -> new Line());
      line.claims.add(new Claim(key, acquired.token()));
      line.count.incrementAndGet();
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
    long weight = weight(response);
    if (weight > maxBytes) {
      release(key, token);
      return false;
    }
    Instant now = clock.instant();
    boolean[] done = new boolean[1];
    entries.computeIfPresent(
        key,
        (k, e) -> {
          if (!owns(e, token, now)) {
            return e;
          }
          done[0] = true;
          bytes.addAndGet(weight);
          return new Entry(e.requestHash, token, e.created, e.locked, now.plus(retention), response);
        });
    if (done[0]) {
      wake(key);
      if (bytes.get() > maxBytes) {
        evict(now);
      }
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
    Entry gone = entries.remove(key);
    forget(gone);
    boolean removed = gone != null;
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
    // A copy per caller: one that stops waiting cancels its own, not the other waiters'.
    CompletableFuture<Void> mine = watchers.computeIfAbsent(key, k -> new CompletableFuture<>())
        .copy();
    // Registered, then looked at: a key with no claim in flight (finished before the watch came)
    // would keep its entry until it is next finished, which may be never. Waking it now costs
    // the waiter one more look at the store.
    Entry e = entries.get(key);
    if (e == null || !e.inFlight()) {
      wake(key);
    }
    return mine;
  }

  /** How many keys have watchers, for tests. */
  int watchedKeys() {
    return watchers.size();
  }

  private void wake(String key) {
    CompletableFuture<Void> f = watchers.remove(key);
    if (f != null) {
      f.complete(null);
    }
  }

  /** What the held responses weigh, in bytes of bodies and header text; for tests. */
  long bytesHeld() {
    return bytes.get();
  }

  /** How many records are held, expired ones included until they are evicted. */
  public int size() {
    return entries.size();
  }

  /**
   * Drops the expired records at the heads of the lines, then, while the store is over its
   * bound, the head record that expires first. One thread at a time; the others go on.
   */
  private void evict(Instant now) {
    if (evicting.get() != 0 || !evicting.compareAndSet(0, 1)) {
      return;
    }
    try {
      for (Line line : lines.values()) {
        for (int budget = line.count.get(); budget > 0; budget--) {
          Claim head = line.claims.peek();
          if (head == null) {
            break;
          }
          Entry e = current(head);
          // Under the bound a dead owner's lock stays for its taker to see it was recovered.
          if (e != null && (e.expires.isAfter(now) || e.inFlight())) {
            break;
          }
          drop(line, head, now);
        }
      }
      // A live lock goes to the back of its line, so this ends even if every record is one.
      for (int budget = claimsQueued();
          budget > 0 && (entries.size() > maxEntries || bytes.get() > maxBytes);
          budget--) {
        Line soonest = null;
        Instant soonestExpiry = null;
        for (Line line : lines.values()) {
          Claim head = line.claims.peek();
          if (head != null) {
            Entry e = current(head);
            Instant expiry = e == null ? Instant.MIN : e.expires;
            if (soonestExpiry == null || expiry.isBefore(soonestExpiry)) {
              soonest = line;
              soonestExpiry = expiry;
            }
          }
        }
        if (soonest == null) {
          break;
        }
        drop(soonest, soonest.claims.peek(), now);
      }
      for (Line line : lines.values()) {
        if (line.count.get() > 2 * Math.max(maxEntries, entries.size())) {
          // Claims of released or purged records that never reached the head: drop them all.
          line.claims.removeIf(c -> {
            boolean gone = current(c) == null;
            if (gone) {
              line.count.decrementAndGet();
            }
            return gone;
          });
        }
      }
    } finally {
      evicting.set(0);
    }
  }

  private Entry current(Claim claim) {
    Entry e = entries.get(claim.key);
    return e != null && e.token == claim.token ? e : null;
  }

  /** Takes the head claim off its line and its record out of the store, unless a live lock. */
  private void drop(Line line, Claim head, Instant now) {
    line.claims.poll();
    boolean[] kept = {false};
    entries.computeIfPresent(head.key, (k, r) -> {
      if (r.token != head.token) {
        return r;
      }
      if (r.inFlight() && r.expires.isAfter(now)) {
        kept[0] = true;
        return r;
      }
      forget(r);
      return null;
    });
    if (kept[0]) {
      line.claims.add(head);
    } else {
      line.count.decrementAndGet();
    }
  }

  /** How many claims wait in the lines, gone ones included; for tests. */
  int claimsQueued() {
    int queued = 0;
    for (Line line : lines.values()) {
      queued += line.count.get();
    }
    return queued;
  }

  @Override
  public String name() {
    return "memory";
  }
}
