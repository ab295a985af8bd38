package org.rlhfstream.ingest;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.rlhfstream.platform.config.KafkaSettings;

/** The Kafka producer ingest writes with: what each property is for. */
final class FeedbackProducer {

  private FeedbackProducer() {}

  static KafkaProducer<String, byte[]> create(KafkaSettings kafka, IngestConfig config) {
    return new KafkaProducer<>(properties(kafka, config));
  }

  static Properties properties(KafkaSettings kafka, IngestConfig config) {
    IngestConfig.Producer p = config.producer();
    IngestConfig.Limits limits = config.limits();
    Properties props = kafka.clientProperties();
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "rlhf-ingest");
    // Keys are event ids (text); values are serialized rlhf.v1.Comparison messages.
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    // An acknowledged event is on every in-sync replica: 202 means durable, not "in a leader's memory".
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    // Retries after a lost response do not write an event twice, and keep per-partition order.
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    // At most 5 for idempotence to keep ordering guarantees.
    props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
    // Retry as often as the delivery timeout allows; the delivery timeout is what bounds a request.
    props.put(ProducerConfig.RETRIES_CONFIG, String.valueOf(Integer.MAX_VALUE));
    // How long an event may wait for its acknowledgement, retries included: past it the request gets 503.
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(p.deliveryTimeout().toMillis()));
    // How long one produce request may wait for the broker before it is retried.
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(p.requestTimeout().toMillis()));
    // send() runs on the event loop, so it must never wait: without topic metadata or buffer
    // space it fails at once (the request gets 503) instead of blocking. The in-flight limit keeps
    // the buffer from filling; metadata is fetched at start and kept while the topic is in use.
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "0");
    // A few milliseconds of batching turn thousands of tiny requests into a few produce requests.
    props.put(ProducerConfig.LINGER_MS_CONFIG, String.valueOf(p.linger().toMillis()));
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(p.batchBytes()));
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, p.compression());
    // Room for everything the in-flight limit admits (twice, for batch overhead), so that send()
    // never waits for buffer space: the in-flight limit answers 503 first.
    props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, String.valueOf(Math.max(32L << 20, 2 * limits.maxInFlightBytes())));
    // One event is at most one request body; let a record that large through the client.
    props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(Math.max(1 << 20, limits.maxBodyBytes() + (64 << 10))));
    // Reconnect quickly when the broker comes back, so that ingest recovers by itself.
    props.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
    props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
    props.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "100");
    props.put(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "1000");
    // Explicit overrides win over everything above.
    for (Map.Entry<String, String> e : p.properties().entrySet()) {
      props.put(e.getKey(), e.getValue());
    }
    return props;
  }
}
