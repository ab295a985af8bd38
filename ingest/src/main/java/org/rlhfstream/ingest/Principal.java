package org.rlhfstream.ingest;

import java.util.Set;

/**
 * Who sent a request, once authenticated.
 *
 * @param app the labeling app (API key entry name, or the JWT's app claim)
 * @param tenants the tenants it may write
 * @param scheme how it authenticated: {@code api-key} or {@code jwt}
 */
public record Principal(String app, Set<String> tenants, String scheme) {

  public Principal {
    tenants = Set.copyOf(tenants);
  }

  public boolean mayWrite(String tenant) {
    return tenants.contains(tenant);
  }
}
