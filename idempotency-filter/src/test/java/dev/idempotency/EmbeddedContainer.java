package dev.idempotency;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.ErrorPage;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.eclipse.jetty.ee10.servlet.ErrorPageErrorHandler;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** Embedded Tomcat 11 or Jetty 12 ee10 with one filter on /*, servlets by mapping, error pages. */
public abstract class EmbeddedContainer implements AutoCloseable {

  public enum Kind { TOMCAT, JETTY }

  public static final class App {
    final Map<String, HttpServlet> servlets = new LinkedHashMap<>();
    final Map<Integer, String> errorPages = new LinkedHashMap<>();
    boolean compression;

    /** Tomcat's connector compression="on"; Jetty's GzipHandler around the context. */
    public App compression() {
      compression = true;
      return this;
    }

    public App servlet(String mapping, HttpServlet servlet) {
      servlets.put(mapping, servlet);
      return this;
    }

    public App errorPage(int status, String location) {
      errorPages.put(status, location);
      return this;
    }
  }

  public abstract int port();

  public static EmbeddedContainer start(Kind kind, Filter filter, App app) throws Exception {
    return kind == Kind.TOMCAT ? tomcat(filter, app) : jetty(filter, app);
  }

  static EmbeddedContainer jetty(Filter filter, App app) throws Exception {
    Server server = new Server(new InetSocketAddress("127.0.0.1", 0));
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    FilterHolder fh = new FilterHolder(filter);
    fh.setAsyncSupported(true);
    context.addFilter(fh, "/*", EnumSet.of(DispatcherType.REQUEST));
    app.servlets.forEach((mapping, servlet) -> {
      ServletHolder sh = new ServletHolder(servlet);
      sh.setAsyncSupported(true);
      context.addServlet(sh, mapping);
    });
    ErrorPageErrorHandler errors = new ErrorPageErrorHandler();
    app.errorPages.forEach(errors::addErrorPage);
    context.setErrorHandler(errors);
    if (app.compression) {
      org.eclipse.jetty.server.handler.gzip.GzipHandler gzip =
          new org.eclipse.jetty.server.handler.gzip.GzipHandler();
      gzip.setIncludedMethods("GET", "POST");
      gzip.setHandler(context);
      server.setHandler(gzip);
    } else {
      server.setHandler(context);
    }
    server.start();
    int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    return new EmbeddedContainer() {
      public int port() { return port; }
      public void close() throws Exception { server.stop(); }
    };
  }

  static EmbeddedContainer tomcat(Filter filter, App app) throws Exception {
    Path base = Files.createTempDirectory("tomcat");
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(base.toString());
    Connector connector = new Connector();
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    if (app.compression) {
      connector.setProperty("compression", "on");
    }
    tomcat.setConnector(connector);
    Context ctx = tomcat.addContext("", base.toString());
    FilterDef fd = new FilterDef();
    fd.setFilterName("idempotency");
    fd.setFilter(filter);
    fd.setAsyncSupported("true");
    ctx.addFilterDef(fd);
    FilterMap fm = new FilterMap();
    fm.setFilterName("idempotency");
    fm.addURLPattern("/*");
    fm.setDispatcher("REQUEST");
    ctx.addFilterMap(fm);
    int[] n = {0};
    app.servlets.forEach((mapping, servlet) -> {
      String name = "s" + (n[0]++);
      Tomcat.addServlet(ctx, name, servlet).setAsyncSupported(true);
      ctx.addServletMappingDecoded(mapping, name);
    });
    app.errorPages.forEach((status, location) -> {
      ErrorPage ep = new ErrorPage();
      ep.setErrorCode(status);
      ep.setLocation(location);
      ctx.addErrorPage(ep);
    });
    tomcat.start();
    int port = connector.getLocalPort();
    return new EmbeddedContainer() {
      public int port() { return port; }
      public void close() throws Exception { tomcat.stop(); tomcat.destroy(); }
    };
  }

  /** Writes raw request bytes on a new connection; reads until the server closes or idles. */
  public String raw(String request, int idleMs) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", port())) {
      socket.setSoTimeout(idleMs);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return readAll(socket.getInputStream());
    }
  }

  public static String readAll(InputStream in) throws Exception {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    try {
      int n;
      while ((n = in.read(buf)) != -1) {
        got.write(buf, 0, n);
      }
      got.write("<EOF>".getBytes(StandardCharsets.ISO_8859_1));
    } catch (SocketTimeoutException e) {
      got.write("<IDLE>".getBytes(StandardCharsets.ISO_8859_1));
    } catch (java.io.IOException e) {
      got.write(("<" + e + ">").getBytes(StandardCharsets.ISO_8859_1));
    }
    return got.toString(StandardCharsets.ISO_8859_1);
  }

  public static String post(String path, String key, String contentType, String body,
      String... extraHeaders) {
    StringBuilder r = new StringBuilder("POST " + path + " HTTP/1.1\r\nHost: localhost\r\n");
    if (key != null) {
      r.append("Idempotency-Key: ").append(key).append("\r\n");
    }
    r.append("Content-Type: ").append(contentType).append("\r\n");
    for (String h : extraHeaders) {
      r.append(h).append("\r\n");
    }
    r.append("Content-Length: ").append(body.getBytes(StandardCharsets.ISO_8859_1).length)
        .append("\r\n\r\n").append(body);
    return r.toString();
  }
}
