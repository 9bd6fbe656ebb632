"""Links from the host to a chain of MM modules: AUC over pyusb, a serial line, in-process."""
