package dev.idempotency;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.SequenceInputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hands the downstream servlet the body the filter already read: the same bytes through
 * {@code getInputStream} and {@code getReader}, and form parameters through
 * {@code getParameter*}, since the container can no longer parse them from a consumed stream.
 * When the filter stopped reading at its limit, the rest still comes from the original stream.
 * Not thread-safe, like the request it wraps.
 */
final class BufferedBodyRequest extends HttpServletRequestWrapper {

  private final byte[] body;
  private final int length;
  private final InputStream rest;
  private final boolean form;
  private final boolean containerParameters;
  private ServletResponse asyncResponse;
  private Runnable beforeAsyncComplete;
  private Runnable beforeAsyncDispatch;
  private AsyncContext asyncContext;
  private BodyStream stream;
  private boolean dispatchReturned;
  private Runnable pendingRead;
  private BufferedReader reader;
  private Map<String, String[]> parameters;

  /**
   * @param rest what remains of the original stream after {@code length} bytes, or null if the
   *     whole body was read
   */
  BufferedBodyRequest(HttpServletRequest request, byte[] body, int length, InputStream rest) {
    this(request, body, length, rest, false);
  }

  private BufferedBodyRequest(HttpServletRequest request, byte[] body, int length,
      InputStream rest, boolean containerParameters) {
    super(request);
    this.body = body;
    this.length = length;
    this.rest = rest;
    this.containerParameters = containerParameters;
    this.form = IdempotencyFilter.FORM
        .equals(Fingerprint.mimeType(IdempotencyFilter.contentType(request)));
  }

  /**
   * A form whose body the container already parsed (an earlier filter asked for a parameter):
   * parameters come from the container, the stream is empty, as it would be without the filter.
   */
  static BufferedBodyRequest withContainerParameters(HttpServletRequest request) {
    return new BufferedBodyRequest(request, new byte[0], 0, null, true);
  }

  /** So {@code AsyncContext#getResponse()} hands out the capturing response, not the raw one. */
  void asyncResponse(ServletResponse response) {
    this.asyncResponse = response;
  }

  /**
   * Runs {@code action} when the handler calls {@code AsyncContext#complete()}, before it, and
   * {@code beforeDispatch} before an {@code AsyncContext#dispatch}.
   */
  void beforeAsyncEnd(Runnable action, Runnable beforeDispatch) {
    this.beforeAsyncComplete = action;
    this.beforeAsyncDispatch = beforeDispatch;
  }

  /** The body's charset for hashing and forms: the declared one, else UTF-8. */
  Charset charset() {
    return declaredCharset(StandardCharsets.UTF_8);
  }

  private Charset declaredCharset(Charset otherwise) {
    try {
      String encoding = getCharacterEncoding();
      return encoding == null ? otherwise : Charset.forName(encoding);
    } catch (IllegalArgumentException e) {
      return otherwise;
    }
  }

  @Override
  public ServletInputStream getInputStream() {
    if (stream == null) {
      stream = rest == null
          ? new BodyStream(new ByteArrayInputStream(body, 0, length), true)
          : new BodyStream(
              new SequenceInputStream(new ByteArrayInputStream(body, 0, length), rest), false);
    }
    return stream;
  }

  /**
   * Decodes as the container would: the declared charset, else ISO-8859-1 (the Servlet
   * default), except JSON, which is UTF-8 (RFC 8259; Jetty assumes it too).
   */
  @Override
  public BufferedReader getReader() {
    if (reader == null) {
      boolean json = Fingerprint.isJson(Fingerprint.mimeType(IdempotencyFilter.contentType(this)));
      Charset charset =
          declaredCharset(json ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      reader = new BufferedReader(new InputStreamReader(getInputStream(), charset));
    }
    return reader;
  }

  @Override
  public int getContentLength() {
    return rest == null ? length : super.getContentLength();
  }

  @Override
  public long getContentLengthLong() {
    return rest == null ? length : super.getContentLengthLong();
  }

  @Override
  public String getParameter(String name) {
    String[] values = parameters().get(name);
    return values == null || values.length == 0 ? null : values[0];
  }

  @Override
  public Map<String, String[]> getParameterMap() {
    return parameters();
  }

  @Override
  public Enumeration<String> getParameterNames() {
    return Collections.enumeration(parameters().keySet());
  }

  @Override
  public String[] getParameterValues(String name) {
    String[] values = parameters().get(name);
    return values == null ? null : values.clone();
  }

  private Map<String, String[]> parameters() {
    if (parameters == null) {
      parameters = form && !containerParameters ? parseForm() : super.getParameterMap();
    }
    return parameters;
  }

  private Map<String, String[]> parseForm() {
    Map<String, List<String>> collected = new LinkedHashMap<>();
    addPairs(collected, getQueryString(), StandardCharsets.UTF_8);
    String text;
    if (rest == null) {
      text = new String(body, 0, length, charset());
    } else {
      try {
        text = new String(getInputStream().readAllBytes(), charset());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    addPairs(collected, text, charset());
    Map<String, String[]> result = new LinkedHashMap<>();
    collected.forEach((k, v) -> result.put(k, v.toArray(String[]::new)));
    return Collections.unmodifiableMap(result);
  }

  private static void addPairs(Map<String, List<String>> into, String text, Charset charset) {
    if (text == null || text.isEmpty()) {
      return;
    }
    for (String pair : text.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq), charset);
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1), charset);
      into.computeIfAbsent(name, n -> new ArrayList<>(1)).add(value);
    }
  }

  private static String decode(String s, Charset charset) {
    try {
      return URLDecoder.decode(s, charset);
    } catch (IllegalArgumentException e) {
      return s;
    }
  }

  @Override
  public AsyncContext startAsync() {
    return wrap(asyncResponse == null
        ? super.startAsync() : super.startAsync(this, asyncResponse));
  }

  @Override
  public AsyncContext startAsync(ServletRequest request, ServletResponse response) {
    return wrap(super.startAsync(request, response));
  }

  @Override
  public AsyncContext getAsyncContext() {
    AsyncContext context = super.getAsyncContext();
    return asyncContext != null && context != null ? asyncContext : context;
  }

  private AsyncContext wrap(AsyncContext context) {
    asyncContext = beforeAsyncComplete == null
        ? context
        : new CompletingAsyncContext(context, beforeAsyncComplete, beforeAsyncDispatch);
    return asyncContext;
  }

  /**
   * The filter's dispatch of this request returned. A {@code ReadListener} set during it is
   * called now: a container calls one only after the dispatch that set it, never inside
   * {@code setReadListener}.
   */
  void dispatchReturned() {
    Runnable pending;
    synchronized (this) {
      dispatchReturned = true;
      pending = pendingRead;
      pendingRead = null;
    }
    if (pending != null) {
      pending.run();
    }
  }

  private void whenDispatchReturned(Runnable read) {
    synchronized (this) {
      if (!dispatchReturned) {
        pendingRead = read;
        return;
      }
    }
    read.run();
  }

  /**
   * The buffered body as a servlet stream. Non-blocking readers are served as a container
   * serves a body it already has: ready until the last byte is read, the listener called once
   * the dispatch has returned, and anything it throws handed to its {@code onError}.
   */
  private final class BodyStream extends ServletInputStream {
    private final InputStream in;
    private final boolean inMemory;
    private boolean finished;

    BodyStream(InputStream in, boolean inMemory) {
      this.in = in;
      this.inMemory = inMemory;
      this.finished = inMemory && available() == 0;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      finished = b < 0 || (inMemory && in.available() == 0);
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      finished = n < 0 || (inMemory && in.available() == 0);
      return n;
    }

    @Override
    public int available() {
      try {
        return in.available();
      } catch (IOException e) {
        return 0;
      }
    }

    @Override
    public boolean isFinished() {
      return finished;
    }

    @Override
    public boolean isReady() {
      return !finished;
    }

    @Override
    public void setReadListener(ReadListener listener) {
      java.util.Objects.requireNonNull(listener, "listener");
      if (!isAsyncStarted()) {
        throw new IllegalStateException("a ReadListener needs an asynchronous request");
      }
      whenDispatchReturned(() -> {
        try {
          if (!finished) {
            listener.onDataAvailable();
          }
          if (finished) {
            listener.onAllDataRead();
          }
        } catch (IOException | RuntimeException e) {
          listener.onError(e);
        }
      });
    }
  }
}
