"""The Connect Master scenarios (the connect-master conformance profile): features, steps and
the fixtures they run on."""
