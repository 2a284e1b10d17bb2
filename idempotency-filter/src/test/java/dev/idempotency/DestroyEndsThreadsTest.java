package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.memory.MemoryStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@code destroy()} returns once the filter's own thread has ended: a servlet container looks for
 * a webapp's threads as soon as its filters are destroyed and reports those still running
 * ("appears to have started a thread named [idempotency-lease] but has failed to stop it").
 */
class DestroyEndsThreadsTest {

  @Test
  void destroyReturnsOnceTheLeaseThreadHasEnded() {
    List<String> alive = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Set<Thread> before = leaseThreads();
      IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore()).build();
      filter.destroy();
      leaseThreads().stream().filter(t -> !before.contains(t)).forEach(t -> alive.add(t.getName()));
    }
    assertThat(alive).as("lease threads alive when destroy() returned").isEmpty();
  }

  private static Set<Thread> leaseThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("idempotency-lease") && t.isAlive())
        .collect(Collectors.toSet());
  }
}
