package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.TestClock;
import dev.idempotency.jdbc.FallbackStore.Breaker;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {

  private final TestClock clock = new TestClock();
  private final CircuitBreaker breaker = new CircuitBreaker(clock, 3, Duration.ofSeconds(1));

  @Test
  void opensAfterTheThresholdOfFailuresInARow() {
    assertThat(breaker.onFailure()).isFalse();
    assertThat(breaker.onFailure()).isFalse();
    assertThat(breaker.allows()).isTrue();
    assertThat(breaker.onFailure()).isTrue();
    assertThat(breaker.state()).isEqualTo(Breaker.OPEN);
    assertThat(breaker.allows()).isFalse();
  }

  @Test
  void onTheDefaultMonotonicClockAnOpenBreakerLetsAProbeThroughAfterItsCoolDown() {
    CircuitBreaker monotonic =
        new CircuitBreaker(MonotonicClock.INSTANCE, 1, Duration.ofMillis(200));
    long opened = System.nanoTime();
    monotonic.onFailure();
    boolean allowed = monotonic.allows();
    if (System.nanoTime() - opened < 200_000_000L) {
      assertThat(allowed).as("asked within the cool-down").isFalse();
    }
    await().atMost(Duration.ofSeconds(5)).until(monotonic::allows);
    assertThat(System.nanoTime() - opened).isGreaterThanOrEqualTo(200_000_000L);
    assertThat(monotonic.state()).isEqualTo(Breaker.HALF_OPEN);
  }

  @Test
  void aSuccessResetsTheCountOfFailures() {
    breaker.onFailure();
    breaker.onFailure();
    breaker.onSuccess();
    breaker.onFailure();
    breaker.onFailure();
    assertThat(breaker.state()).isEqualTo(Breaker.CLOSED);
  }

  @Test
  void afterTheCoolDownExactlyOneProbeIsLetThrough() {
    open();
    clock.advance(Duration.ofMillis(999));
    assertThat(breaker.allows()).isFalse();
    clock.advance(Duration.ofMillis(1));
    assertThat(breaker.allows()).isTrue();
    assertThat(breaker.state()).isEqualTo(Breaker.HALF_OPEN);
    assertThat(breaker.allows()).isFalse();
    assertThat(breaker.allows()).isFalse();
  }

  @Test
  void aSuccessfulProbeClosesTheBreaker() {
    open();
    clock.advance(Duration.ofSeconds(1));
    assertThat(breaker.allows()).isTrue();
    assertThat(breaker.onSuccess()).isTrue();
    assertThat(breaker.state()).isEqualTo(Breaker.CLOSED);
    assertThat(breaker.allows()).isTrue();
  }

  @Test
  void aFailedProbeOpensTheBreakerForAnotherCoolDown() {
    open();
    clock.advance(Duration.ofSeconds(1));
    assertThat(breaker.allows()).isTrue();
    assertThat(breaker.onFailure()).isFalse();
    assertThat(breaker.state()).isEqualTo(Breaker.OPEN);
    clock.advance(Duration.ofMillis(500));
    assertThat(breaker.allows()).isFalse();
    clock.advance(Duration.ofMillis(500));
    assertThat(breaker.allows()).isTrue();
  }

  @Test
  void aProbeThatNeverReportsDoesNotKeepTheBreakerHalfOpenForever() {
    open();
    clock.advance(Duration.ofSeconds(1));
    assertThat(breaker.allows()).isTrue();
    clock.advance(Duration.ofSeconds(1));
    assertThat(breaker.allows()).isTrue();
    assertThat(breaker.allows()).isFalse();
  }

  private void open() {
    breaker.onFailure();
    breaker.onFailure();
    breaker.onFailure();
    assertThat(breaker.state()).isEqualTo(Breaker.OPEN);
  }
}
