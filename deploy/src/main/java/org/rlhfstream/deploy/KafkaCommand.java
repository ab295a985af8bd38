package org.rlhfstream.deploy;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.kafka.EmbeddedKafkaBroker;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code rlhf kafka}: only the embedded broker (with the topics), for services in other processes. */
@Command(name = "kafka", mixinStandardHelpOptions = true,
    description = "Run only the embedded Kafka broker (KRaft) with the project's topics, for services in other processes.")
public final class KafkaCommand implements Callable<Integer> {

  @Mixin ConfigOptions configOptions;
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException {
    RlhfConfig config = configOptions.load();
    if (!config.kafka().useEmbedded()) {
      throw new UserError("rlhf kafka starts the embedded broker; do not give it --bootstrap-servers");
    }
    KafkaSettings k = config.kafka();
    EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(config.dataDir().resolve("kafka"),
        k.embeddedHost(), k.embeddedPort(), k.embeddedControllerPort());
    try {
      AllInOne.ensureTopics(k.withBootstrapServers(broker.bootstrapServers()), config);
    } catch (RuntimeException e) {
      broker.close();
      throw e;
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println("Kafka broker ready at " + broker.bootstrapServers() + " (data in " + config.dataDir().resolve("kafka") + ")");
    out.println("Press Ctrl-C to stop.");
    out.flush();
    ShutdownSignal.awaitThenClose(broker);
    return RlhfCommand.EXIT_OK;
  }
}
