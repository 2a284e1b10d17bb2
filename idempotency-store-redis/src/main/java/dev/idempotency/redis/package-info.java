/**
 * The Redis store: {@link dev.idempotency.redis.RedisStore}, one Lua script per operation on
 * standalone Redis or Redis Cluster, and its {@link dev.idempotency.redis.RedisStoreProvider} for
 * {@code idempotency.store=redis}.
 */
package dev.idempotency.redis;
