package dev.idempotency.spi;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A store of idempotency records, atomic per key (SPEC §8).
 *
 * <p>Keys handed to a store are already scoped and hashed by the filter: they never contain
 * caller text. A record is either <em>in flight</em> (locked by one owner, identified by a
 * fencing token) or <em>completed</em> (holding the stored response). Time — lock age and
 * expiry — is judged by the store's own clock (the Redis or database server's), so clock skew
 * between application hosts cannot make a live lock look stale.
 *
 * <p>Implementations must be thread-safe; two instances pointed at the same backend must behave
 * as one (two JVMs).
 */
public interface IdempotencyStore extends AutoCloseable {

  /**
   * Atomically claims {@code key} for one execution, or reports why not.
   *
   * <ul>
   *   <li>no record, or an expired one: create an in-flight record locked for
   *       {@code lockTimeout}, answer {@link Acquisition.Acquired} with a new token;
   *   <li>a live record with a different {@code requestHash}: {@link Acquisition.Mismatch};
   *   <li>completed: {@link Acquisition.Completed} with the stored response;
   *   <li>in flight with a lock younger than its timeout: {@link Acquisition.InFlight};
   *   <li>in flight with an expired lock (owner died): take over with a new token,
   *       {@link Acquisition.Acquired} with {@code recovered = true}.
   * </ul>
   *
   * @param retention how long the record lives before it is considered expired, counted from
   *     now; {@link #complete} sets it again
   */
  Acquisition acquire(String key, String requestHash, Duration lockTimeout, Duration retention);

  /**
   * Stores the response for {@code key} if {@code token} still owns its lock, keeping it for
   * {@code retention} from now. A store may count it from the claim instead when that keeps the
   * response at least 99 % of {@code retention} (the JDBC store does, to write less).
   *
   * @return false if the token no longer owns the key (recovered by another owner, purged,
   *     expired); nothing was changed then
   */
  boolean complete(String key, long token, StoredResponse response, Duration retention);

  /**
   * Deletes the in-flight record for {@code key} if {@code token} still owns it, so a retry
   * executes again.
   *
   * @return false if the token no longer owns the key; nothing was changed then
   */
  boolean release(String key, long token);

  /**
   * Extends a live owner's lock to {@code lockTimeout} from now (lease renewal).
   *
   * @return false if the token no longer owns the key
   */
  boolean renew(String key, long token, Duration lockTimeout);

  /** What the store holds for {@code key}, for operators; empty if nothing or expired. */
  Optional<RecordInfo> inspect(String key);

  /**
   * Deletes whatever the store holds for {@code key}, for operators.
   *
   * @return true if a record was deleted
   */
  boolean purge(String key);

  /**
   * In-flight records whose lock is older than {@code olderThan}, oldest first, at most
   * {@code limit}, for operators.
   */
  List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit);

  /**
   * A future completed when {@code key} is next completed, released or purged, so waiters
   * ({@code in-flight=wait}) are woken by the store instead of polling. Subscribe
   * <em>before</em> calling {@link #acquire}, so a change between the two is not missed. Each
   * call returns a future of its own: a caller that stops waiting cancels it, so the store can
   * forget it, and that must not disturb any other watcher of the key.
   *
   * @return null if this store cannot notify; callers then poll with back-off
   */
  default CompletableFuture<Void> watch(String key) {
    return null;
  }

  /** A short name for metrics and logs: {@code memory}, {@code redis}, {@code jdbc}. */
  String name();

  /**
   * What this store is doing now: which store serves, its breaker, its fallback count. Read by
   * metrics scrapes and dashboards, so it must answer from memory, without I/O. By default this
   * store serves, with no breaker.
   */
  default StoreStatus status() {
    return StoreStatus.serving(name());
  }

  /** Releases connections and threads this store owns. */
  @Override
  default void close() {}

  /**
   * Whether this store can keep {@code response} at all (Redis: one argument of at most its
   * {@code proto-max-bulk-len}). A {@code complete} of one it cannot keep releases the claim and
   * answers {@code false}, as for a response over {@code max-response-bytes}.
   */
  default boolean takes(StoredResponse response) {
    return true;
  }
}
