package dev.idempotency.sample;

import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The sample's shared parts — the order book, the count of handler executions and the timer that
 * finishes async requests — created when the webapp starts and kept as a context attribute.
 * Registered in {@code web.xml}. Thread-safe.
 */
public final class SampleApp implements ServletContextListener {

  private static final String ATTRIBUTE = SampleApp.class.getName();

  private final OrderBook orders = new OrderBook(100_000);
  private final AtomicLong executions = new AtomicLong();
  private ScheduledExecutorService timer;

  @Override
  public void contextInitialized(ServletContextEvent event) {
    timer =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "sample-async-timer");
              thread.setDaemon(true);
              return thread;
            });
    event.getServletContext().setAttribute(ATTRIBUTE, this);
  }

  @Override
  public void contextDestroyed(ServletContextEvent event) {
    event.getServletContext().removeAttribute(ATTRIBUTE);
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static SampleApp of(ServletContext context) {
    SampleApp app = (SampleApp) context.getAttribute(ATTRIBUTE);
    if (app == null) {
      throw new IllegalStateException(
          SampleApp.class.getName() + " is not registered as a <listener> in web.xml");
    }
    return app;
  }

  OrderBook orders() {
    return orders;
  }

  /** Counts one run of a POST handler; called first thing, so 4xx and 5xx runs count too. */
  void executed() {
    executions.incrementAndGet();
  }

  long executions() {
    return executions.get();
  }

  ScheduledExecutorService timer() {
    return timer;
  }
}
