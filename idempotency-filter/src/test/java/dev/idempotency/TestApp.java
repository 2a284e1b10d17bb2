package dev.idempotency;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The servlet behind the filter in HTTP tests: counts its executions and answers by path.
 * Handlers that must be held open wait on a {@link #gate} the test opens, never on a timer.
 */
public final class TestApp extends HttpServlet {

  /** Executions of any handler. */
  public final AtomicInteger executions = new AtomicInteger();
  /** Executions per {@code X-Test-Id} header, for tests that race many keys. */
  public final Map<String, AtomicInteger> executionsById = new ConcurrentHashMap<>();
  /** Server-side arrival times (nanoTime) per {@code X-Test-Id}, before the filter runs. */
  public final Map<String, java.util.List<Long>> arrivals = new ConcurrentHashMap<>();

  /** Run when a request reaches the server, before the filter under test sees it. */
  public volatile Runnable onArrival = () -> {};

  /** A filter to put before the one under test: records when requests reached the server. */
  public jakarta.servlet.Filter arrivalRecorder() {
    return (request, response, chain) -> {
      onArrival.run();
      String id = ((HttpServletRequest) request).getHeader("X-Test-Id");
      if (id != null) {
        arrivals.computeIfAbsent(id, k -> java.util.Collections.synchronizedList(
            new java.util.ArrayList<>())).add(System.nanoTime());
      }
      chain.doFilter(request, response);
    };
  }

  /** Says which application answered {@code /named}, for tests that run several. */
  public volatile String name = "app";

  /** Opened by the test to let held handlers ({@code ?hold=1}) go on. */
  public volatile CountDownLatch gate = new CountDownLatch(1);
  /** Counted down when a held handler has started. */
  public volatile CountDownLatch entered = new CountDownLatch(1);
  /** Counted down by {@code /big} once it has written its first megabyte. */
  /** Counted down once an {@code /async-ended} handler's {@code complete()} has returned. */
  public final CountDownLatch asyncEndedCompleted = new CountDownLatch(1);
  public final CountDownLatch bigFirstMegabyteWritten = new CountDownLatch(1);
  /** Opened by the test once the client has seen the start of {@code /big}. */
  public final CountDownLatch bigMayFinish = new CountDownLatch(1);

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    if (req.getDispatcherType() == jakarta.servlet.DispatcherType.ASYNC) {
      // /async-dispatch, dispatched back here: the answer, not another execution.
      resp.setStatus(202);
      resp.setContentType("text/plain");
      resp.getWriter().write("dispatched after execution " + executions.get());
      return;
    }
    if (req.getMethod().equals("GET")) {
      resp.getWriter().write("get " + executions.get());
      return;
    }
    int n = executions.incrementAndGet();
    String id = req.getHeader("X-Test-Id");
    if (id != null) {
      executionsById.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    }
    if (req.getParameter("hold") != null) {
      entered.countDown();
      await(gate);
    }
    String path = IdempotencyFilter.pathOf(req);
    switch (path) {
      case "/named" -> {
        req.getInputStream().readAllBytes();
        resp.setStatus(201);
        resp.setContentType("text/plain");
        resp.getOutputStream().write(("answered by " + name).getBytes(StandardCharsets.UTF_8));
      }
      case "/echo" -> {
        byte[] body = req.getInputStream().readAllBytes();
        resp.setStatus(201);
        resp.setContentType("application/octet-stream");
        resp.setHeader("X-Execution", Integer.toString(n));
        resp.getOutputStream().write(body);
      }
      case "/odd-headers" -> {
        // Control characters a container sends as spaces; a store must not split or refuse them.
        resp.setStatus(201);
        resp.setHeader("X-Nul", "a\u0000b");
        resp.setHeader("X-Line", "a\nX-Injected: b");
        resp.setHeader("X-Return", "a\rb");
        resp.setHeader("X-Tab", "a\tb");
        resp.setContentType("text/plain");
        resp.getOutputStream().write(("odd " + n).getBytes(StandardCharsets.UTF_8));
      }
      case "/late-status" -> {
        // The whole declared body, then a late status and header: without the filter the
        // container has committed by then and ignores both.
        byte[] body = ("done " + n).getBytes(StandardCharsets.UTF_8);
        resp.setStatus(201);
        resp.setContentType("text/plain");
        resp.setContentLength(body.length);
        resp.getOutputStream().write(body);
        resp.setStatus(500);
        resp.setHeader("X-Late", "1");
        if (resp.isCommitted() && req.getParameter("sendError") != null) {
          try {
            resp.sendError(500);
          } catch (IllegalStateException e) {
            resp.setHeader("X-Refused", "sendError");
          }
        }
      }
      case "/status" -> {
        resp.setStatus(Integer.parseInt(req.getParameter("code")));
        resp.setContentType("text/plain");
        resp.getOutputStream().write(("execution " + n).getBytes(StandardCharsets.UTF_8));
      }
      case "/writer" -> {
        req.getInputStream().readAllBytes();
        resp.setContentType("text/plain;charset=UTF-8");
        resp.setHeader("X-Execution", Integer.toString(n));
        resp.addHeader("X-Multi", "a");
        resp.addHeader("X-Multi", "b");
        resp.setHeader("Set-Cookie", "session=" + n);
        resp.getWriter().print("grüße, execution " + n);
      }
      case "/flush" -> {
        resp.setContentType("text/plain");
        resp.getOutputStream().write(("part one " + n + "\n").getBytes(StandardCharsets.UTF_8));
        resp.flushBuffer();
        resp.getOutputStream().write("part two\n".getBytes(StandardCharsets.UTF_8));
      }
      case "/length" -> {
        byte[] body = ("fixed length " + n).getBytes(StandardCharsets.UTF_8);
        resp.setContentType("text/plain");
        resp.setContentLength(body.length);
        resp.getOutputStream().write(body);
      }
      case "/async-ended" -> {
        // The whole declared body goes out, then the handler waits before complete().
        AsyncContext async = req.startAsync();
        async.start(() -> {
          try {
            HttpServletResponse r = (HttpServletResponse) async.getResponse();
            byte[] body = ("ended " + n).getBytes(StandardCharsets.UTF_8);
            r.setStatus(202);
            r.setContentLength(body.length);
            r.getOutputStream().write(body);
            r.flushBuffer();
            entered.countDown();
            await(gate);
          } catch (IOException e) {
            throw new IllegalStateException(e);
          } finally {
            async.complete();
            asyncEndedCompleted.countDown();
          }
        });
      }
      case "/async-dispatch" -> {
        AsyncContext async = req.startAsync();
        async.start(async::dispatch);
      }
      case "/async-sized" -> {
        // Writes its whole declared body and flushes while the filter may still be returning.
        AsyncContext async = req.startAsync();
        async.start(() -> {
          try {
            HttpServletResponse r = (HttpServletResponse) async.getResponse();
            byte[] body = ("sized " + n).getBytes(StandardCharsets.UTF_8);
            r.setStatus(202);
            r.setContentLength(body.length);
            r.getOutputStream().write(body);
            r.flushBuffer();
          } catch (IOException e) {
            throw new IllegalStateException(e);
          } finally {
            async.complete();
          }
        });
      }
      case "/closed" -> {
        resp.setContentType("text/plain");
        OutputStream out = resp.getOutputStream();
        out.write(("closed " + n).getBytes(StandardCharsets.UTF_8));
        out.close();
      }
      case "/reset", "/reset-buffer" -> {
        resp.setContentType("text/plain;charset=UTF-8");
        resp.getWriter().write("discarded");
        if (path.equals("/reset")) {
          resp.reset();
          resp.setContentType("text/plain;charset=UTF-8");
        } else {
          resp.resetBuffer();
        }
        resp.setStatus(202);
        resp.getWriter().write("after " + n);
      }
      case "/reader" -> {
        String text = req.getReader().lines().collect(java.util.stream.Collectors.joining("\n"));
        resp.setContentType("text/plain;charset=UTF-8");
        resp.getWriter().write(text);
      }
      case "/async-timeout-unanswered" -> req.startAsync().setTimeout(200);
      case "/empty-flush" -> {
        resp.setStatus(201);
        resp.setHeader("X-Execution", Integer.toString(n));
        resp.setContentLength(0);
        resp.flushBuffer();
      }
      case "/async-timeout-answered" -> {
        // The application answers its own async timeout, through the container's context.
        AsyncContext async = req.startAsync();
        async.setTimeout(200);
        async.addListener(new jakarta.servlet.AsyncListener() {
          @Override
          public void onTimeout(jakarta.servlet.AsyncEvent event) throws IOException {
            HttpServletResponse r = (HttpServletResponse) event.getAsyncContext().getResponse();
            r.setStatus(202);
            r.setContentType("text/plain");
            r.getOutputStream().write(("timed out, execution " + n).getBytes(
                StandardCharsets.UTF_8));
            event.getAsyncContext().complete();
          }

          @Override
          public void onComplete(jakarta.servlet.AsyncEvent event) {}

          @Override
          public void onError(jakarta.servlet.AsyncEvent event) {}

          @Override
          public void onStartAsync(jakarta.servlet.AsyncEvent event) {}
        });
      }
      case "/error" -> resp.sendError(404, "no such order " + n);
      case "/redirect" -> resp.sendRedirect("/orders/" + n);
      case "/throw" -> throw new IllegalStateException("handler failed on purpose");
      case "/form" -> {
        Map<String, String[]> params = new TreeMap<>(req.getParameterMap());
        StringBuilder out = new StringBuilder();
        params.forEach((k, v) -> out.append(k).append('=').append(String.join("|", v))
            .append('\n'));
        resp.setContentType("text/plain;charset=UTF-8");
        resp.getWriter().write(out.toString());
      }
      case "/async" -> {
        AsyncContext async = req.startAsync();
        async.start(() -> {
          try {
            if (req.getParameter("holdAsync") != null) {
              entered.countDown();
              await(gate);
            }
            HttpServletResponse r = (HttpServletResponse) async.getResponse();
            r.setStatus(202);
            r.setContentType("text/plain");
            r.getOutputStream().write(("async execution " + n).getBytes(StandardCharsets.UTF_8));
          } catch (IOException e) {
            throw new IllegalStateException(e);
          } finally {
            async.complete();
          }
        });
      }
      case "/big" -> {
        resp.setContentType("application/octet-stream");
        OutputStream out = resp.getOutputStream();
        byte[] chunk = new byte[64 * 1024];
        for (int i = 0; i < 80; i++) {
          java.util.Arrays.fill(chunk, (byte) i);
          out.write(chunk);
          out.flush();
          if (i == 15) {
            bigFirstMegabyteWritten.countDown();
            await(bigMayFinish);
          }
        }
      }
      default -> {
        byte[] body = req.getInputStream().readAllBytes();
        resp.setStatus(201);
        resp.setContentType("application/json");
        resp.getOutputStream().write(("{\"execution\":" + n + ",\"bytes\":" + body.length + "}")
            .getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never opened the gate");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
