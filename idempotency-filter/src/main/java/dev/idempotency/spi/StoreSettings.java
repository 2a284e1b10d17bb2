package dev.idempotency.spi;

import java.time.Duration;

/**
 * The settings of SPEC §9 a store provider needs. Immutable and thread-safe.
 *
 * @param redisUri {@code idempotency.redis.uri}: {@code redis://}, {@code rediss://},
 *     {@code redis-cluster://} or a comma list of cluster seeds
 * @param jdbcUrl {@code idempotency.jdbc.url}, or null
 * @param jdbcDataSource {@code idempotency.jdbc.datasource}: the JNDI name of a container's
 *     {@code javax.sql.DataSource}, used instead of {@code jdbcUrl}; or null
 * @param jdbcUser {@code idempotency.jdbc.user}, or null
 * @param jdbcPassword {@code idempotency.jdbc.password}, or null
 * @param jdbcCreateSchema {@code idempotency.jdbc.create-schema}
 * @param lockTimeout {@code idempotency.lock-timeout}, for stores that size timeouts by it
 */
public record StoreSettings(
    String redisUri,
    String jdbcUrl,
    String jdbcDataSource,
    String jdbcUser,
    String jdbcPassword,
    boolean jdbcCreateSchema,
    Duration lockTimeout) {

  /** Settings without {@code idempotency.jdbc.datasource}, as before it existed. */
  public StoreSettings(String redisUri, String jdbcUrl, String jdbcUser, String jdbcPassword,
      boolean jdbcCreateSchema, Duration lockTimeout) {
    this(redisUri, jdbcUrl, null, jdbcUser, jdbcPassword, jdbcCreateSchema, lockTimeout);
  }

  @Override
  public String toString() {
    return "StoreSettings[redisUri=" + redisUri + ", jdbcUrl=" + jdbcUrl + ", jdbcDataSource="
        + jdbcDataSource + ", jdbcUser=" + jdbcUser
        + ", jdbcCreateSchema=" + jdbcCreateSchema + ", lockTimeout=" + lockTimeout + "]";
  }
}
