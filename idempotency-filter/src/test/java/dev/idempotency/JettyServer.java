package dev.idempotency;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** An embedded Jetty 12 (ee10) on a free loopback port with one filter and one servlet. */
public final class JettyServer implements AutoCloseable {

  private final Server server;
  private final int port;

  private JettyServer(Server server, int port) {
    this.server = server;
    this.port = port;
  }

  public static JettyServer start(Filter filter, HttpServlet servlet) throws Exception {
    return start(null, filter, servlet);
  }

  /** With {@code before} (if not null) mapped ahead of the filter, as an application's own. */
  public static JettyServer start(Filter before, Filter filter, HttpServlet servlet)
      throws Exception {
    Server server = new Server(new InetSocketAddress("127.0.0.1", 0));
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    if (before != null) {
      context.addFilter(new FilterHolder(before), "/*", EnumSet.of(DispatcherType.REQUEST));
    }
    if (servlet instanceof TestApp app) {
      FilterHolder recorder = new FilterHolder(app.arrivalRecorder());
      recorder.setAsyncSupported(true);
      context.addFilter(recorder, "/*", EnumSet.of(DispatcherType.REQUEST));
    }
    FilterHolder filterHolder = new FilterHolder(filter);
    filterHolder.setAsyncSupported(true);
    context.addFilter(filterHolder, "/*", EnumSet.of(DispatcherType.REQUEST));
    ServletHolder servletHolder = new ServletHolder(servlet);
    servletHolder.setAsyncSupported(true);
    context.addServlet(servletHolder, "/*");
    server.setHandler(context);
    server.start();
    return new JettyServer(server, ((ServerConnector) server.getConnectors()[0]).getLocalPort());
  }

  public URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + port + pathAndQuery);
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
