package dev.idempotency.jdbc;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Makes a store's daemon threads and, when the store closes, waits for them to end: a servlet
 * container looks for a webapp's threads as soon as its filters are destroyed and reports those
 * still running as leaks (an executor's {@code awaitTermination} returns before its last thread
 * has ended). Ended threads are forgotten as new ones are made. Thread-safe.
 */
final class StoreThreads implements ThreadFactory {

  private final String name;
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();

  StoreThreads(String name) {
    this.name = name;
  }

  @Override
  public Thread newThread(Runnable runnable) {
    Thread thread = new Thread(runnable, name);
    thread.setDaemon(true);
    // HikariCP's adder and closer end after 5 s idle and are made again at every connection
    // added or retired: kept, each one ever made would stay in memory for the store's life.
    // TERMINATED, not !isAlive(): a thread made here but not started yet is kept.
    threads.removeIf(t -> t.getState() == Thread.State.TERMINATED);
    threads.add(thread);
    return thread;
  }

  /** Waits at most {@code wait} in all for every thread made here to end. */
  void awaitEnd(Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    try {
      for (Thread thread : threads) {
        long left = deadline - System.nanoTime();
        if (left > 0 && thread != Thread.currentThread()) {
          TimeUnit.NANOSECONDS.timedJoin(thread, left);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
