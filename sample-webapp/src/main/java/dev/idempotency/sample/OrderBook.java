package dev.idempotency.sample;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The orders created since start, in memory. Keeps at most {@code capacity} orders, dropping the
 * oldest, so a benchmark cannot fill the heap. Thread-safe.
 */
final class OrderBook {

  private final int capacity;
  private final Map<String, Order> byId = new ConcurrentHashMap<>();
  private final Queue<String> oldestFirst = new ConcurrentLinkedQueue<>();

  OrderBook(int capacity) {
    this.capacity = capacity;
  }

  Order create(String item, int quantity) {
    Order order = new Order(UUID.randomUUID().toString(), item, quantity, Instant.now().toString());
    byId.put(order.id(), order);
    oldestFirst.add(order.id());
    while (byId.size() > capacity) {
      String oldest = oldestFirst.poll();
      if (oldest == null) {
        break;
      }
      byId.remove(oldest);
    }
    return order;
  }

  Optional<Order> find(String id) {
    return Optional.ofNullable(byId.get(id));
  }

  int size() {
    return byId.size();
  }
}
