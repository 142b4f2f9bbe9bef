// Fetches a demo token for the visitor (a per-browser id) or the agent, and hands the widget the
// server address. A real site gets its token from its own backend instead.
const key = 'live-chat-demo-visitor';
const visitor = localStorage.getItem(key) || `visitor-${Math.random().toString(36).slice(2, 10)}`;
localStorage.setItem(key, visitor);
const chat = document.getElementById('chat');
const agent = chat.dataset.role === 'agent';
const conversation = new URLSearchParams(location.search).get('conversation') || visitor;
const sub = agent ? 'agent-demo' : visitor;
const { token } = await (await fetch(`/demo/token?sub=${encodeURIComponent(sub)}&role=${agent ? 'agent' : 'user'}`)).json();
chat.setAttribute('server-url', `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat`);
chat.setAttribute('conversation-id', conversation);
chat.setAttribute('token', token);
// The agent view of this visitor's conversation, for a second person (or window) to answer.
document.getElementById('agent-link')?.setAttribute('href', `agent.html?conversation=${encodeURIComponent(visitor)}`);
