package org.rlhfstream.platform.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Writes records that a consumer cannot use to the dead-letter topic: the original key and bytes,
 * the original headers, and the reason in {@code rlhf.dlq.*} headers, so the record can be
 * inspected and replayed. A write is acknowledged by Kafka before {@link #send} returns: the
 * consumer may move past the bad record only once it is safely in the DLQ.
 */
public final class DeadLetters implements AutoCloseable {

  public static final String REASON = "rlhf.dlq.reason";
  public static final String SOURCE_TOPIC = "rlhf.dlq.source.topic";
  public static final String SOURCE_PARTITION = "rlhf.dlq.source.partition";
  public static final String SOURCE_OFFSET = "rlhf.dlq.source.offset";
  public static final String CONSUMER = "rlhf.dlq.consumer";

  private final KafkaProducer<byte[], byte[]> producer;
  private final String topic;
  private final String consumerName;
  private final Duration timeout;

  /**
   * @param clientProperties bootstrap servers and security settings
   * @param topic the dead-letter topic
   * @param consumerName who rejected the record (recorded in a header)
   */
  public DeadLetters(Properties clientProperties, String topic, String consumerName, Duration timeout) {
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    // A dead letter must not be lost or duplicated either.
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    p.put("client.id", consumerName + "-dlq");
    // Bounded: a send the caller gave up on must be over (failed or written) before it retries,
    // so a retry cannot race an old attempt. The rare write that lands after its timeout shows as
    // a second dead letter with the same rlhf.dlq.source.* headers.
    long ms = timeout.toMillis();
    p.put("max.block.ms", String.valueOf(ms));
    p.put("request.timeout.ms", String.valueOf(Math.max(1000, ms / 3)));
    p.put("delivery.timeout.ms", String.valueOf(Math.max(1000, ms / 3) + Math.max(1000, ms / 3)));
    this.producer = new KafkaProducer<>(p);
    this.topic = topic;
    this.consumerName = consumerName;
    this.timeout = timeout;
  }

  /** Sends the record to the DLQ with {@code reason} and waits for Kafka's acknowledgement. */
  public void send(ConsumerRecord<byte[], byte[]> record, String reason) {
    ProducerRecord<byte[], byte[]> dead = new ProducerRecord<>(topic, null, record.key(), record.value());
    Headers h = dead.headers();
    record.headers().forEach(h::add);
    h.add(REASON, utf8(reason));
    h.add(SOURCE_TOPIC, utf8(record.topic()));
    h.add(SOURCE_PARTITION, utf8(Integer.toString(record.partition())));
    h.add(SOURCE_OFFSET, utf8(Long.toString(record.offset())));
    h.add(CONSUMER, utf8(consumerName));
    try {
      producer.send(dead).get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
    } catch (org.apache.kafka.common.KafkaException e) {
      throw new IllegalStateException("cannot write to dead-letter topic " + topic + ": " + e.getMessage(), e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("cannot write to dead-letter topic " + topic + ": " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("dead-letter topic " + topic + " did not acknowledge within " + timeout, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while writing a dead letter", e);
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(10));
  }
}
