"""RabbitMQ: the topology, the message contract and the confirmed publisher."""
