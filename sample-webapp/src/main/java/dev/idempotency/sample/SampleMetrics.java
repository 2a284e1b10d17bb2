package dev.idempotency.sample;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import java.time.Duration;

/**
 * The sample's two meter registries, added to Micrometer's global registry when the webapp
 * starts — before the filter's {@code init}, so the filter's meters land in both — and removed
 * when it stops. Registered in {@code web.xml}; kept as a context attribute. Thread-safe.
 *
 * <ul>
 *   <li>{@link #prometheus()}: scraped at {@code GET /metrics};
 *   <li>{@link #dashboard()}: read by the dashboard; it also keeps p50 and p99 of each store
 *       operation over about the last minute, which Prometheus computes from the histogram
 *       instead.
 * </ul>
 */
public final class SampleMetrics implements ServletContextListener {

  private static final String ATTRIBUTE = SampleMetrics.class.getName();
  static final Duration PERCENTILE_WINDOW = Duration.ofMinutes(1);

  private PrometheusMeterRegistry prometheus;
  private SimpleMeterRegistry dashboard;

  @Override
  public void contextInitialized(ServletContextEvent event) {
    prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    dashboard = new SimpleMeterRegistry();
    dashboard.config().meterFilter(new MeterFilter() {
      @Override
      public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
        if (!id.getName().equals("idempotency.store")) {
          return config;
        }
        return DistributionStatisticConfig.builder()
            .percentiles(0.5, 0.99)
            .percentilePrecision(2)
            .percentilesHistogram(false)
            .expiry(PERCENTILE_WINDOW)
            // Each time is recorded once per buffer: 6 buffers put this registry at 2 % of the
            // CPU of a 32-client run; 2 keep "about the last minute" (30 to 60 s of samples).
            .bufferLength(2)
            .build()
            .merge(config);
      }
    });
    Metrics.addRegistry(prometheus);
    Metrics.addRegistry(dashboard);
    event.getServletContext().setAttribute(ATTRIBUTE, this);
  }

  @Override
  public void contextDestroyed(ServletContextEvent event) {
    event.getServletContext().removeAttribute(ATTRIBUTE);
    Metrics.removeRegistry(prometheus);
    Metrics.removeRegistry(dashboard);
    prometheus.close();
    dashboard.close();
  }

  static SampleMetrics of(ServletContext context) {
    SampleMetrics metrics = (SampleMetrics) context.getAttribute(ATTRIBUTE);
    if (metrics == null) {
      throw new IllegalStateException(
          SampleMetrics.class.getName() + " is not registered as a <listener> in web.xml");
    }
    return metrics;
  }

  PrometheusMeterRegistry prometheus() {
    return prometheus;
  }

  MeterRegistry dashboard() {
    return dashboard;
  }
}
