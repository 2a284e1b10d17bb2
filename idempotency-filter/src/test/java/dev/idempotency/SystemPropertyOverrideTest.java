package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.memory.MemoryStore;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * README "Precedence: system property > environment > init-param / builder > default". A value
 * a system property overrides is never used, so it must not stop start-up.
 */
class SystemPropertyOverrideTest {

  @Test
  void aSystemPropertyOverridesABadBuilderOrInitParamValue() {
    Map<String, String> properties = Map.of("idempotency.lock-timeout", "5s");
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore())
        .set("lock-timeout", "soon")
        .environment(name -> null, properties::get)
        .build();
    assertThat(filter.config().lockTimeout()).isEqualTo(Duration.ofSeconds(5));
    filter.destroy();
  }

  @Test
  void aSystemPropertyOverridesAnOutOfRangeRolloutPercent() {
    Map<String, String> properties = Map.of("idempotency.rollout.percent", "50");
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore())
        .set("rollout.percent", "150")
        .environment(name -> null, properties::get)
        .build();
    assertThat(filter.config().rolloutPercent()).isEqualTo(50);
    filter.destroy();
  }
}
