package dev.idempotency.jdbc;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * A clock that only moves forward, at the rate of {@link System#nanoTime()}: the circuit
 * breakers' default. A breaker on the wall clock stayed open for as long as an NTP step or a VM
 * resume set the clock back. Its instants start at the wall clock's when the class is loaded, so
 * they read sensibly in logs, but drift from it afterwards; they only measure durations.
 */
final class MonotonicClock extends Clock {

  static final MonotonicClock INSTANCE = new MonotonicClock();

  private static final Instant ORIGIN = Instant.now();
  private static final long ORIGIN_NANOS = System.nanoTime();

  private MonotonicClock() {}

  @Override
  public Instant instant() {
    return ORIGIN.plusNanos(System.nanoTime() - ORIGIN_NANOS);
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("a monotonic clock has no zone to change");
  }
}
