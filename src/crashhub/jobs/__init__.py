"""Background jobs: the queue interface (``base.Queue``), in-process workers (``local``) and the
handlers the hub registers (``handlers``)."""
