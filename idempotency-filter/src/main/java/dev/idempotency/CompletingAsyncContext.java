package dev.idempotency;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;

/**
 * The handler's {@link AsyncContext}, with the filter's work run before {@link #complete()}: the
 * response is stored while the request is still open, so a retry on the same connection (which
 * the container reads only after this request ends) finds it completed, never in flight.
 * {@code AsyncListener#onComplete} comes too late for that: containers may run it after the
 * connection has moved on. A {@code dispatch} is announced before it happens: the container then
 * ends the response itself, and the filter stores it only after that.
 */
final class CompletingAsyncContext implements AsyncContext {

  private final AsyncContext context;
  private final Runnable beforeComplete;
  private final Runnable beforeDispatch;

  CompletingAsyncContext(AsyncContext context, Runnable beforeComplete, Runnable beforeDispatch) {
    this.context = context;
    this.beforeComplete = beforeComplete;
    this.beforeDispatch = beforeDispatch;
  }

  @Override
  public void complete() {
    try {
      beforeComplete.run();
    } finally {
      context.complete();
    }
  }

  @Override
  public ServletRequest getRequest() {
    return context.getRequest();
  }

  @Override
  public ServletResponse getResponse() {
    return context.getResponse();
  }

  @Override
  public boolean hasOriginalRequestAndResponse() {
    return context.hasOriginalRequestAndResponse();
  }

  @Override
  public void dispatch() {
    beforeDispatch.run();
    context.dispatch();
  }

  @Override
  public void dispatch(String path) {
    beforeDispatch.run();
    context.dispatch(path);
  }

  @Override
  public void dispatch(ServletContext servletContext, String path) {
    beforeDispatch.run();
    context.dispatch(servletContext, path);
  }

  @Override
  public void start(Runnable run) {
    context.start(run);
  }

  @Override
  public void addListener(AsyncListener listener) {
    context.addListener(listener);
  }

  @Override
  public void addListener(AsyncListener listener, ServletRequest request,
      ServletResponse response) {
    context.addListener(listener, request, response);
  }

  @Override
  public <T extends AsyncListener> T createListener(Class<T> type) throws ServletException {
    return context.createListener(type);
  }

  @Override
  public void setTimeout(long timeout) {
    context.setTimeout(timeout);
  }

  @Override
  public long getTimeout() {
    return context.getTimeout();
  }
}
