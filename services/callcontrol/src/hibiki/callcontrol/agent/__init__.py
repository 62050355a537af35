"""Agent feature codes (CC-02, CC-03): an agent changes state from any phone.

The directory's dialplan turns ``*50<agent>``, ``*59``, ``*51``, ``*52``, ``*53[reason]`` and
``*55<case type>`` into ``hibiki_app=agent:<action>:<digits>`` with the phone in
``hibiki_agent_device``, then ``socket <callcontrol> async full``.

* ``request.py``: the ``agent:`` application's argument, parsed and checked;
* ``desk.py``: what each action asks the ACD (``AgentLogin``, ``AgentLogout``,
  ``SetAgentState``, ``SaveDisposition``; the agent on the phone from ``GetAgentSnapshot``),
  and why a request is refused;
* ``esl_app.py``: the call itself: answer, the request, a confirmation or refusal tone, hang up.
"""
