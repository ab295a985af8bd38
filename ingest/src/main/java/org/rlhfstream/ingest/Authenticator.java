package org.rlhfstream.ingest;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns request headers into a {@link Principal}. Credentials travel as
 * {@code Authorization: Bearer <api-key or JWT>} or {@code X-API-Key: <api-key>} (the same
 * names in gRPC metadata). API keys are compared by their SHA-256, in constant time, against
 * every configured hash; JWTs (when enabled) are verified by Vert.x auth-jwt.
 */
final class Authenticator {

  static final String API_KEY_HEADER = "x-api-key";

  private record KeyEntry(byte[] sha256, Principal principal) {}

  private final List<KeyEntry> keys;
  private final JWTAuth jwt;
  private final IngestConfig.Jwt jwtSettings;

  Authenticator(Vertx vertx, IngestConfig.Auth auth) {
    HexFormat hex = HexFormat.of();
    this.keys = auth.apiKeys().stream()
        .map(k -> new KeyEntry(hex.parseHex(k.sha256()), new Principal(k.app(), k.tenants(), "api-key")))
        .toList();
    this.jwtSettings = auth.jwt();
    this.jwt = jwtSettings.enabled() ? JWTAuth.create(vertx, jwtOptions(jwtSettings)) : null;
  }

  /** Fails with {@link Rejection#UNAUTHENTICATED} when the credentials are missing or match nothing. */
  Future<Principal> authenticate(MultiMap headers) {
    String apiKey = headers.get(API_KEY_HEADER);
    if (apiKey != null) {
      return apiKey(apiKey.trim());
    }
    String authorization = headers.get("authorization");
    if (authorization == null || authorization.isBlank()) {
      return unauthenticated("credentials are required: send 'Authorization: Bearer <api key or JWT>' or 'X-API-Key: <api key>'");
    }
    int space = authorization.indexOf(' ');
    if (space < 0 || !authorization.substring(0, space).equalsIgnoreCase("bearer")) {
      return unauthenticated("the Authorization header must use the Bearer scheme");
    }
    String token = authorization.substring(space + 1).trim();
    if (jwt != null && looksLikeJwt(token)) {
      return jwt(token);
    }
    return apiKey(token);
  }

  private Future<Principal> apiKey(String key) {
    if (key.isEmpty()) {
      return unauthenticated("the API key is empty");
    }
    byte[] presented = ApiKeyBootstrap.sha256(key.getBytes(StandardCharsets.UTF_8));
    Principal match = null;
    // Compare with every entry, without stopping early: the time taken says nothing about which matched.
    for (KeyEntry k : keys) {
      boolean equal = MessageDigest.isEqual(k.sha256(), presented);
      if (equal) {
        match = k.principal();
      }
    }
    return match != null ? Future.succeededFuture(match) : unauthenticated("the API key is not valid");
  }

  private Future<Principal> jwt(String token) {
    return jwt.authenticate(new TokenCredentials(token))
        .recover(err -> unauthenticated("the JWT is not valid: " + err.getMessage()))
        .compose(user -> {
          JsonObject claims = user.principal();
          Object appValue = claims.getValue(jwtSettings.appClaim());
          if (!(appValue instanceof String app) || app.isBlank()) {
            return unauthenticated("the JWT has no '" + jwtSettings.appClaim() + "' claim naming the app");
          }
          return Future.succeededFuture(new Principal(app, tenants(claims.getValue(jwtSettings.tenantsClaim())), "jwt"));
        });
  }

  private static Set<String> tenants(Object claim) {
    Set<String> out = new LinkedHashSet<>();
    if (claim instanceof JsonArray array) {
      array.forEach(t -> {
        if (t instanceof String s && !s.isBlank()) {
          out.add(s);
        }
      });
    } else if (claim instanceof String s) {
      for (String part : s.split("[,\\s]+")) {
        if (!part.isBlank()) {
          out.add(part);
        }
      }
    }
    return out;
  }

  private static boolean looksLikeJwt(String token) {
    int first = token.indexOf('.');
    return first > 0 && token.indexOf('.', first + 1) > first;
  }

  private static JWTAuthOptions jwtOptions(IngestConfig.Jwt s) {
    PubSecKeyOptions key = new PubSecKeyOptions().setAlgorithm(s.algorithm());
    key.setBuffer(s.algorithm().startsWith("HS") ? s.secret() : s.publicKey());
    JWTOptions options = new JWTOptions().setLeeway(30);
    if (!s.issuer().isBlank()) {
      options.setIssuer(s.issuer());
    }
    if (!s.audience().isBlank()) {
      options.setAudience(List.of(s.audience()));
    }
    return new JWTAuthOptions().addPubSecKey(key).setJWTOptions(options);
  }

  private static <T> Future<T> unauthenticated(String message) {
    return Future.failedFuture(IngestException.of(Rejection.UNAUTHENTICATED, new Violation("Authorization", "credentials", message)));
  }
}
