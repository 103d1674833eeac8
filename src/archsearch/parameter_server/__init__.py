"""NAS-RL's asynchronous parameter-server training (Zoph & Le, ICLR 2017, section 3.3; SPEC.md 1.7).

- ``servers.py``: the S shards of the controller's weights (``ParameterShard``, ``ParameterServer``);
- ``replicas.py``: the K controller replicas (``ControllerReplica``) and the options that shape them;
- ``strategy.py``: ``ParameterServerReinforce`` (registered as ``nasrl_ps``), which runs in-process under
  a study's ask/tell loop on any executor, and drives the study itself on Ray;
- ``ray_driver.py``: that Ray run, with shards and replicas as actors and children as Ray tasks.

Nothing is imported here, so that naming the package loads neither torch nor Ray.
"""
