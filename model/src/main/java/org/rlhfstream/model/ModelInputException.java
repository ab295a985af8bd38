package org.rlhfstream.model;

/**
 * Bad input from the user rather than a bug: a missing file, an unsupported architecture, a tensor
 * that is missing or unexpected, a prompt longer than the context. The message is one line meant
 * for a person; command lines print it without a stack trace and exit with status 2.
 */
public class ModelInputException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ModelInputException(String message) {
    super(message);
  }

  public ModelInputException(String message, Throwable cause) {
    super(message, cause);
  }
}
