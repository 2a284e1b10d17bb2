package dev.idempotency.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jdbi.v3.core.HandleCallback;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link IdempotencyStore} on PostgreSQL (SPEC §8, store {@code jdbc}): Jdbi 3 over a
 * {@link DataSource}, one table ({@code schema-postgresql.sql}).
 *
 * <p>Each operation is one statement in its own transaction: acquire is a single
 * {@code INSERT … ON CONFLICT … WHERE <dead> RETURNING} that claims the key or reports what holds
 * it (and writes nothing when it replays; only a claim that loses a race on the same key runs it
 * a second time); complete, release and renew are updates fenced by the owner's
 * token. Lock age and expiry are judged by the database's clock ({@code now()}), never the JVM's.
 * Expired rows are deleted in bounded batches by a background daemon thread, never on the request
 * path. Failures (connection refused, timeouts, SQL errors) surface as {@link StoreException}.
 * After three connection failures in a row, calls fail at once instead of each waiting for the
 * pool's connection timeout; one call a second tries the database again.
 *
 * <p>Built with {@link #builder()}: from a URL (the store then owns a HikariCP pool and closes it)
 * or from the application's {@link DataSource} (never closed by the store). Thread-safe.
 */
public final class JdbcStore implements IdempotencyStore {

  private static final Logger log = LoggerFactory.getLogger(JdbcStore.class);
  static final String NAME = "jdbc";
  private static final int MAX_PURGE_BATCHES_PER_RUN = 100;
  private static final int BREAKER_FAILURES = 3;
  private static final Duration BREAKER_COOL_DOWN = Duration.ofSeconds(1);
  private static final int MAX_ACQUIRE_ATTEMPTS = 3;
  /** Runs of one operation that may fail on a snapshot conflict outside READ COMMITTED. */
  private static final int MAX_SERIALIZATION_ATTEMPTS = 5;

  // The request path (acquire, complete, release, renew, find) runs on plain JDBC: one pooled
  // connection, one prepared statement from the driver's cache, no Jdbi handle per call, which
  // cost more than the statement itself on a replay. The rest goes through Jdbi.
  static final String DRIVER = "org.postgresql.Driver";
  /** How long {@link #close} waits for the store's threads to end. */
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
  private static final NamedSql ACQUIRE = NamedSql.parse(Sql.ACQUIRE);
  private static final NamedSql COMPLETE = NamedSql.parse(Sql.COMPLETE);
  private static final NamedSql RELEASE = NamedSql.parse(Sql.RELEASE);
  private static final NamedSql RENEW = NamedSql.parse(Sql.RENEW);
  private static final NamedSql FIND = NamedSql.parse(Sql.FIND);

  private final DataSource dataSource;
  private final Jdbi jdbi;
  private final HikariDataSource ownedPool;
  /** The purge of expired rows, and the release of claims whose acquire got no answer. */
  private final ScheduledExecutorService background;
  /** The background thread, and the pool's when the store built the pool. */
  private final StoreThreads threads;
  private final int purgeBatchSize;
  private final CircuitBreaker breaker =
      new CircuitBreaker(MonotonicClock.INSTANCE, BREAKER_FAILURES, BREAKER_COOL_DOWN);

  private JdbcStore(DataSource dataSource, HikariDataSource ownedPool, StoreThreads poolThreads,
      Builder builder) {
    this.dataSource = dataSource;
    this.jdbi = Jdbi.create(dataSource);
    this.ownedPool = ownedPool;
    this.purgeBatchSize = builder.purgeBatchSize;
    this.threads = poolThreads;
    this.background = Executors.newSingleThreadScheduledExecutor(poolThreads);
    if (!builder.purgeInterval.isZero()) {
      long millis = builder.purgeInterval.toMillis();
      background.scheduleWithFixedDelay(
          this::purgeInBackground, millis, millis, TimeUnit.MILLISECONDS);
    }
  }

  /** A new builder: set either {@link Builder#url} or {@link Builder#dataSource}. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public Acquisition acquire(
      String key, String requestHash, Duration lockTimeout, Duration retention) {
    long token = newToken();
    try {
      return claim(key, requestHash, token, lockTimeout, retention);
    } catch (StoreException e) {
      if (connectionLost(e)) {
        // No answer: the server may still commit the claim (a socket timeout while it waited
        // on a lock), leaving a lock nobody holds to answer retries 409 until it runs out.
        releaseUnansweredClaim(key, token, System.nanoTime() + lockTimeout.toNanos(), 50);
      }
      if (readOnly(e)) {
        // A standby (or a read-only database) refuses the claim, which is an INSERT even when
        // it writes nothing: what it holds can still answer, read-only. A key it does not
        // hold cannot be claimed there: the caller's fail-mode decides.
        Optional<Found> found = find(key, requestHash);
        if (found.isPresent() && found.get().held() != null) {
          return found.get().held();
        }
      }
      throw e;
    }
  }

  /** SQLState 25006: read-only SQL transaction (a hot standby, default_transaction_read_only). */
  private static boolean readOnly(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SQLException sql && "25006".equals(sql.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Releases a claim whose acquire got no answer, once it shows up: tried with back-off until
   * its lock would have run out anyway (a {@code false} may only mean it has not committed yet).
   * The token is the claim's own, so this never touches another request's claim.
   */
  private void releaseUnansweredClaim(String key, long token, long untilNanos, long delayMs) {
    if (System.nanoTime() - untilNanos >= 0 || background.isShutdown()) {
      return;
    }
    try {
      background.schedule(() -> {
        try {
          if (release(key, token)) {
            return;
          }
        } catch (StoreException e) {
          // still unreachable: again later
        }
        releaseUnansweredClaim(key, token, untilNanos, Math.min(1_000, delayMs * 2));
      }, delayMs, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed meanwhile
    }
  }

  private Acquisition claim(
      String key, String requestHash, long token, Duration lockTimeout, Duration retention) {
    return jdbc(
        "acquire",
        c -> {
          try (PreparedStatement s = c.prepareStatement(ACQUIRE.jdbc())) {
            ACQUIRE.setString(s, "key", key);
            ACQUIRE.setString(s, "requestHash", requestHash);
            ACQUIRE.setLong(s, "token", token);
            ACQUIRE.setLong(s, "lockMillis", lockTimeout.toMillis());
            ACQUIRE.setLong(s, "retentionMillis", retention.toMillis());
            // No row: another claim won the key after this statement's snapshot. Each run takes
            // a new snapshot, which sees that winner; only a key dying and being claimed again
            // between two runs, over and over, could exhaust the attempts.
            for (int attempt = 1; attempt <= MAX_ACQUIRE_ATTEMPTS; attempt++) {
              try (ResultSet rs = s.executeQuery()) {
                if (rs.next()) {
                  return rs.getBoolean("acquired")
                      ? new Acquisition.Acquired(token, rs.getBoolean("recovered"))
                      : liveRecord(rs, requestHash);
                }
              }
            }
            throw new SQLException(
                "acquire lost the race for the key " + MAX_ACQUIRE_ATTEMPTS + " times in a row");
          }
        });
  }

  private static long newToken() {
    long token;
    do {
      token = ThreadLocalRandom.current().nextLong();
    } while (token == 0);
    return token;
  }

  /** What a live record means to a caller with {@code requestHash}. */
  private static Acquisition liveRecord(ResultSet rs, String requestHash) throws SQLException {
    if (!requestHash.equals(rs.getString("request_hash"))) {
      return Acquisition.MISMATCH;
    }
    int status = rs.getInt("status");
    if (!rs.wasNull()) {
      byte[] body = rs.getBytes("body");
      return new Acquisition.Completed(
          new StoredResponse(
              status,
              StoredResponse.parseHeaders(rs.getString("headers")),
              body == null ? new byte[0] : body));
    }
    long micros = Math.max(1, rs.getLong("lock_expires_in_micros"));
    return new Acquisition.InFlight(Duration.ofNanos(micros * 1000));
  }

  @Override
  public boolean complete(String key, long token, StoredResponse response, Duration retention) {
    return jdbc(
        "complete",
        c -> {
          try (PreparedStatement s = c.prepareStatement(COMPLETE.jdbc())) {
            COMPLETE.setString(s, "key", key);
            COMPLETE.setLong(s, "token", token);
            COMPLETE.setInt(s, "status", response.status());
            COMPLETE.setString(s, "headers", response.headersAsText());
            COMPLETE.setBytes(s, "body", response.body());
            COMPLETE.setLong(s, "retentionMillis", retention.toMillis());
            return s.executeUpdate() == 1;
          }
        });
  }

  @Override
  public boolean release(String key, long token) {
    return jdbc(
        "release",
        c -> {
          try (PreparedStatement s = c.prepareStatement(RELEASE.jdbc())) {
            RELEASE.setString(s, "key", key);
            RELEASE.setLong(s, "token", token);
            return s.executeUpdate() == 1;
          }
        });
  }

  @Override
  public boolean renew(String key, long token, Duration lockTimeout) {
    return jdbc(
        "renew",
        c -> {
          try (PreparedStatement s = c.prepareStatement(RENEW.jdbc())) {
            RENEW.setString(s, "key", key);
            RENEW.setLong(s, "token", token);
            RENEW.setLong(s, "lockMillis", lockTimeout.toMillis());
            return s.executeUpdate() == 1;
          }
        });
  }

  @Override
  public Optional<RecordInfo> inspect(String key) {
    return call(
        "inspect",
        h ->
            h.createQuery(Sql.INSPECT)
                .bind("key", key)
                .map((rs, ctx) -> recordInfo(rs))
                .findOne());
  }

  @Override
  public boolean purge(String key) {
    return call("purge", h -> h.createUpdate(Sql.PURGE_KEY).bind("key", key).execute()) > 0;
  }

  @Override
  public List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit) {
    return call(
        "inFlightOlderThan",
        h ->
            h.createQuery(Sql.IN_FLIGHT_OLDER_THAN)
                .bind("olderThanMillis", olderThan.toMillis())
                .bind("limit", limit)
                .map((rs, ctx) -> recordInfo(rs))
                .list());
  }

  private static RecordInfo recordInfo(ResultSet rs) throws SQLException {
    int status = rs.getInt("status");
    boolean inFlight = rs.wasNull();
    return new RecordInfo(
        rs.getString("key"),
        inFlight ? RecordInfo.State.IN_FLIGHT : RecordInfo.State.COMPLETED,
        rs.getString("request_hash"),
        micros(rs.getLong("age_micros")),
        inFlight ? micros(rs.getLong("lock_age_micros")) : null,
        micros(rs.getLong("expires_in_micros")),
        inFlight ? 0 : status,
        inFlight ? 0 : rs.getInt("body_size"));
  }

  private static Duration micros(long micros) {
    return Duration.ofNanos(micros * 1000);
  }

  /**
   * Deletes expired rows in batches of the configured size, at most 100 batches; the background
   * purge calls this on its schedule.
   *
   * @return how many rows were deleted
   */
  public int purgeExpired() {
    int total = 0;
    for (int i = 0; i < MAX_PURGE_BATCHES_PER_RUN; i++) {
      int deleted =
          call(
              "purgeExpired",
              h -> h.createUpdate(Sql.PURGE_EXPIRED).bind("batchSize", purgeBatchSize).execute());
      total += deleted;
      if (deleted < purgeBatchSize) {
        break;
      }
    }
    return total;
  }

  private void purgeInBackground() {
    try {
      int deleted = purgeExpired();
      if (deleted > 0) {
        log.debug("purged {} expired idempotency records", deleted);
      }
    } catch (RuntimeException e) {
      // The next run tries again; a scheduled task that throws would never run again.
      log.warn("purge of expired idempotency records failed: {}", e.getMessage());
    }
  }

  /**
   * A live record as a caller would see it, and how long the record has left; {@code held} null
   * for the tombstone of a purge (tombstone.sql), {@code tombstoneAt} then when it was written.
   */
  record Found(Acquisition held, Duration expiresIn, java.time.OffsetDateTime tombstoneAt) {}

  /**
   * The live record for {@code key} as {@code requestHash} would see it, or a purge's live
   * tombstone; empty if neither.
   */
  Optional<Found> find(String key, String requestHash) {
    return jdbc(
        "find",
        c -> {
          try (PreparedStatement s = c.prepareStatement(FIND.jdbc())) {
            FIND.setString(s, "key", key);
            try (ResultSet rs = s.executeQuery()) {
              if (!rs.next()) {
                return Optional.<Found>empty();
              }
              Duration expiresIn = micros(rs.getLong("expires_in_micros"));
              boolean tombstone = rs.getBoolean("tombstone");
              return Optional.of(new Found(
                  tombstone ? null : liveRecord(rs, requestHash), expiresIn,
                  tombstone ? rs.getObject("created_at", java.time.OffsetDateTime.class) : null));
            }
          }
        });
  }

  /**
   * Writes records completed in another store, in one transaction, skipping keys that hold a
   * live record here.
   *
   * @return for each record, whether it was written
   */
  boolean[] mirror(List<CompletedRecord> records) {
    return call(
        "mirror",
        h ->
            h.inTransaction(
                tx -> {
                  PreparedBatch batch = tx.prepareBatch(Sql.MIRROR);
                  for (CompletedRecord r : records) {
                    batch
                        .bind("key", r.key())
                        .bind("requestHash", r.requestHash())
                        .bind("token", r.token())
                        .bind("status", r.response().status())
                        .bind("headers", r.response().headersAsText())
                        .bind("body", r.response().body())
                        .bind("retentionMillis", r.retention().toMillis())
                        .bindByType("tombstoneSeen", r.tombstoneSeen(),
                            java.time.OffsetDateTime.class)
                        .add();
                  }
                  int[] counts = batch.execute();
                  boolean[] written = new boolean[counts.length];
                  for (int i = 0; i < counts.length; i++) {
                    written[i] = counts[i] > 0;
                  }
                  return written;
                }));
  }

  /**
   * Purges {@code key}, leaving a tombstone for {@code ttl} that {@link #mirror} will not
   * overwrite, so a copy still in some JVM's mirror queue cannot resurrect the record.
   *
   * @return true if a live record was deleted
   */
  boolean purgeLeavingTombstone(String key, Duration ttl) {
    return call(
        "purge",
        h ->
            h.createQuery(Sql.TOMBSTONE)
                .bind("key", key)
                .bind("ttlMillis", ttl.toMillis())
                .mapTo(Boolean.class)
                .one());
  }

  /** One operation on one pooled connection in autocommit: one statement, one round trip. */
  private interface JdbcCall<T> {
    T run(Connection connection) throws SQLException;
  }

  private <T> T jdbc(String operation, JdbcCall<T> call) {
    failFastWhileUnreachable(operation);
    Connection connection;
    try {
      connection = dataSource.getConnection();
    } catch (SQLException e) {
      throw failure(operation, e, true);
    }
    try (connection) {
      for (int attempt = 1; ; attempt++) {
        try {
          T result = call.run(connection);
          if (!connection.getAutoCommit()) {
            // An application's pool may hand out connections outside autocommit.
            connection.commit();
          }
          breaker.onSuccess();
          return result;
        } catch (SQLException e) {
          // An application's pool may also run REPEATABLE READ or SERIALIZABLE, where a claim
          // that meets a row committed after its snapshot fails instead of waiting for it. Each
          // operation is one statement: run again, it takes a new snapshot, which sees that row.
          if (attempt == MAX_SERIALIZATION_ATTEMPTS || !serializationFailure(e)) {
            throw e;
          }
          if (!connection.getAutoCommit()) {
            connection.rollback();
          }
        }
      }
    } catch (SQLException e) {
      throw failure(operation, e, connectionLost(e));
    } catch (RuntimeException e) {
      throw failure(operation, e, false);
    }
  }

  private StoreException failure(String operation, Exception e, boolean connectionLost) {
    if (connectionLost && breaker.onFailure()) {
      log.warn("database unreachable ({}); failing fast, trying again every {} ms",
          rootMessage(e), BREAKER_COOL_DOWN.toMillis());
    }
    return new StoreException(NAME, operation + " failed: " + rootMessage(e), e);
  }

  private void failFastWhileUnreachable(String operation) {
    if (!breaker.allows()) {
      throw new StoreException(
          NAME,
          operation + " failed: database unreachable (one call tries it again every "
              + BREAKER_COOL_DOWN.toMillis() + " ms)",
          null);
    }
  }

  private <T> T call(String operation, HandleCallback<T, RuntimeException> callback) {
    failFastWhileUnreachable(operation);
    try {
      T result = jdbi.withHandle(h -> {
        T r = callback.withHandle(h);
        // An application's pool may hand out connections outside autocommit: its work would be
        // rolled back when the connection goes back (a purge that said it deleted, and did not).
        try {
          if (!h.getConnection().getAutoCommit()) {
            h.getConnection().commit();
          }
        } catch (SQLException e) {
          throw new org.jdbi.v3.core.ConnectionException(e);
        }
        return r;
      });
      breaker.onSuccess();
      return result;
    } catch (StoreException e) {
      throw e;
    } catch (RuntimeException e) {
      if (connectionLost(e) && breaker.onFailure()) {
        log.warn("database unreachable ({}); failing fast, trying again every {} ms",
            rootMessage(e), BREAKER_COOL_DOWN.toMillis());
      }
      throw new StoreException(NAME, operation + " failed: " + rootMessage(e), e);
    }
  }

  /** SQLState 40001 (serialization failure) or 40P01 (deadlock detected). */
  private static boolean serializationFailure(SQLException e) {
    return "40001".equals(e.getSQLState()) || "40P01".equals(e.getSQLState());
  }

  /** No connection to be had, or it broke: SQLState class 08, or the server shutting down. */
  private static boolean connectionLost(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof org.jdbi.v3.core.ConnectionException) {
        return true;
      }
      if (t instanceof SQLException sql && sql.getSQLState() != null
          && (sql.getSQLState().startsWith("08") || sql.getSQLState().startsWith("57P"))) {
        return true;
      }
    }
    return false;
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
  }

  /** Whether the store's table is visible on the connection's search path. */
  private boolean hasTable() {
    return call("start-up", h -> h.createQuery(
        "SELECT to_regclass('idempotency_record') IS NOT NULL").mapTo(Boolean.class).one());
  }

  private void applySchema() {
    jdbi.useTransaction(
        h -> {
          try (Statement s = h.getConnection().createStatement()) {
            s.execute(Sql.SCHEMA);
          } catch (SQLException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  @Override
  public String name() {
    return NAME;
  }

  /** Stops the background purge and closes the pool if this store built it. */
  @Override
  public void close() {
    background.shutdownNow();
    if (ownedPool != null) {
      ownedPool.close();
    }
    threads.awaitEnd(CLOSE_WAIT);
  }

  /**
   * Configures a {@link JdbcStore}. Not thread-safe; {@link #build()} copies the settings, so the
   * store never changes after it is built.
   */
  public static final class Builder {

    private static final Pattern PASSWORD_IN_URL =
        Pattern.compile("(?i)(password=)[^&;]*");

    private String url;
    private String user;
    private String password;
    private DataSource dataSource;
    private boolean createSchema;
    private Duration connectionTimeout = Duration.ofSeconds(1);
    private Duration socketTimeout = Duration.ofSeconds(10);
    private int maximumPoolSize = 10;
    private Duration purgeInterval = Duration.ofMinutes(1);
    private int purgeBatchSize = 1000;

    private Builder() {}

    /** {@code idempotency.jdbc.url}: a {@code jdbc:postgresql:} URL; the store builds its pool. */
    public Builder url(String url) {
      this.url = url;
      return this;
    }

    /** {@code idempotency.jdbc.user}, with {@link #url}. */
    public Builder user(String user) {
      this.user = user;
      return this;
    }

    /** {@code idempotency.jdbc.password}, with {@link #url}. */
    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /** The application's own data source, instead of a URL; the store never closes it. */
    public Builder dataSource(DataSource dataSource) {
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
      return this;
    }

    /** {@code idempotency.jdbc.create-schema}: create the table on start if it is missing. */
    public Builder createSchema(boolean createSchema) {
      this.createSchema = createSchema;
      return this;
    }

    /**
     * How long a request waits for a pooled connection before the store fails (default 1 s), so
     * a dead database cannot hang requests. Only for a pool built from {@link #url}.
     */
    public Builder connectionTimeout(Duration timeout) {
      if (timeout.toMillis() < 250) {
        throw new IllegalArgumentException("connectionTimeout must be at least 250ms: " + timeout);
      }
      this.connectionTimeout = timeout;
      return this;
    }

    /**
     * How long a statement may wait for the server's answer (default 10 s): the bound on a hung
     * server. Only for a pool built from {@link #url}.
     */
    public Builder socketTimeout(Duration timeout) {
      if (timeout.toSeconds() < 1) {
        throw new IllegalArgumentException("socketTimeout must be at least 1s: " + timeout);
      }
      this.socketTimeout = timeout;
      return this;
    }

    /** The size of a pool built from {@link #url} (default 10). */
    public Builder maximumPoolSize(int size) {
      if (size < 1) {
        throw new IllegalArgumentException("maximumPoolSize must be positive: " + size);
      }
      this.maximumPoolSize = size;
      return this;
    }

    /** How often expired rows are purged in the background (default 1 min); zero turns it off. */
    public Builder purgeInterval(Duration interval) {
      if (interval.isNegative()) {
        throw new IllegalArgumentException("purgeInterval must not be negative: " + interval);
      }
      this.purgeInterval = interval;
      return this;
    }

    /** How many rows one purge statement deletes at most (default 1000). */
    public Builder purgeBatchSize(int size) {
      if (size < 1) {
        throw new IllegalArgumentException("purgeBatchSize must be positive: " + size);
      }
      this.purgeBatchSize = size;
      return this;
    }

    /**
     * Builds the store, connecting to check the database is there and creating the schema if
     * asked.
     *
     * @throws StoreException if the database cannot be reached; the message names the URL
     *     (without a password)
     * @throws IllegalArgumentException if neither or both of a URL and a data source are set
     */
    public JdbcStore build() {
      if (url != null && dataSource != null) {
        throw new IllegalArgumentException(
            "set either idempotency.jdbc.url or a DataSource, not both: " + redact(url));
      }
      if (dataSource != null) {
        JdbcStore store =
            new JdbcStore(dataSource, null, new StoreThreads("idempotency-jdbc"), this);
        startUp(store, "the given DataSource");
        requireTable(store, "the given DataSource");
        return store;
      }
      if (url == null || url.isBlank()) {
        throw new IllegalArgumentException("idempotency.jdbc.url must be set for the jdbc store");
      }
      if (!url.startsWith("jdbc:postgresql:")) {
        throw new IllegalArgumentException(
            "idempotency.jdbc.url must be a jdbc:postgresql: URL: " + redact(url));
      }
      StoreThreads threads = new StoreThreads("idempotency-jdbc");
      HikariDataSource pool;
      try {
        pool = new HikariDataSource(poolConfig(threads));
      } catch (RuntimeException e) {
        throw new StoreException(
            NAME, "cannot connect to " + redact(url) + ": " + rootMessage(e), e);
      }
      JdbcStore store = new JdbcStore(pool, pool, threads, this);
      startUp(store, redact(url));
      requireTable(store, redact(url));
      return store;
    }

    private HikariConfig poolConfig(StoreThreads threads) {
      HikariConfig config = new HikariConfig();
      config.setPoolName("idempotency-jdbc");
      config.setThreadFactory(threads);
      // Named, HikariCP loads the driver from the store's class loader. Found through
      // DriverManager instead, it is missing in a WAR on Tomcat, whose DriverManager scanned the
      // drivers before WEB-INF/lib was there: "No suitable driver" at every try.
      config.setDriverClassName(DRIVER);
      config.setJdbcUrl(url);
      config.setUsername(user);
      config.setPassword(password);
      config.setMaximumPoolSize(maximumPoolSize);
      config.setConnectionTimeout(connectionTimeout.toMillis());
      config.setValidationTimeout(Math.max(250, connectionTimeout.toMillis() / 2));
      config.setAutoCommit(true);
      long connectSeconds = Math.max(1, (connectionTimeout.toMillis() + 999) / 1000);
      config.addDataSourceProperty("connectTimeout", String.valueOf(connectSeconds));
      config.addDataSourceProperty("socketTimeout", String.valueOf(socketTimeout.toSeconds()));
      // The server gives a statement up before this client stops waiting for it: a claim that
      // waited on a lock past the socket timeout would otherwise commit after the client had
      // reported the store down, held by nobody.
      long socketMillis = socketTimeout.toSeconds() * 1000;
      config.setConnectionInitSql("SET statement_timeout = "
          + (socketMillis - Math.min(1_000, socketMillis / 2)));
      config.addDataSourceProperty("tcpKeepAlive", "true");
      config.addDataSourceProperty("ApplicationName", "idempotency");
      return config;
    }

    /** Every request would fail on a missing table and run unprotected, one WARN each. */
    private void requireTable(JdbcStore store, String where) {
      if (createSchema) {
        return;
      }
      boolean found;
      try {
        found = store.hasTable();
      } catch (StoreException e) {
        store.close();
        throw e;
      }
      if (!found) {
        store.close();
        throw new StoreException(NAME, "no table idempotency_record in " + where
            + ": set idempotency.jdbc.create-schema=true, or apply schema-postgresql.sql", null);
      }
    }

    private void startUp(JdbcStore store, String where) {
      if (!createSchema) {
        return;
      }
      try {
        store.applySchema();
      } catch (RuntimeException e) {
        store.close();
        throw new StoreException(
            NAME, "cannot create the schema on " + where + ": " + rootMessage(e), e);
      }
    }

    static String redact(String url) {
      return url == null ? null : PASSWORD_IN_URL.matcher(url).replaceAll("$1***");
    }
  }
}
