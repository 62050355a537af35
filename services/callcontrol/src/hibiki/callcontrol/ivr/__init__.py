"""IVRs (PBX-18): the directory keeps them as data, callcontrol runs them on the call.

``engine`` (the state machine over an ``Ivr`` message: pure, no I/O) and ``instructions``
(what it tells the adapter to do, the caller's path); ``prompts`` (a prompt to a file
FreeSWITCH plays); ``source`` (``DirectoryService.GetIvr`` over gRPC with a service token);
``bridge`` (the gevent side waiting on the asyncio side); ``notifier`` (the call events an
IVR publishes); ``channel`` (commands and events of one outbound event-socket session);
``esl_app`` (runs the engine on a call).
"""
