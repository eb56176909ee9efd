"""Model runtimes. Each sub-package adapts one model family to the protocol in runtimes.base;
its heavy imports happen inside the sub-package, when the runtime is created."""
