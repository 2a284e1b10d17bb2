/**
 * The store SPI: what a backing store must do so the filter can keep SPEC §5–§8.
 *
 * <p>This package is an extension point. Implement {@link dev.idempotency.spi.IdempotencyStore}
 * to plug in another backend; every implementation must pass {@code IdempotencyStoreContract}
 * from the {@code idempotency-filter} test-jar against a real server.
 */
package dev.idempotency.spi;
