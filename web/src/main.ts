/** The studio's router: #/chat, #/images, #/training, #/history. */
import './style.css';
import { h, info } from './api.js';
import { chatPage } from './chat.js';
import { historyPage } from './history.js';
import { imagesPage } from './images.js';
import { stopFollowing, trainingPage } from './training.js';

const app = document.getElementById('app')!;
const status = document.getElementById('status')!;

async function route(): Promise<void> {
  const [, page = 'chat', arg] = location.hash.replace(/^#/, '').split('/');
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.page === page);
  stopFollowing();
  app.replaceChildren();
  try {
    if (page === 'images') await imagesPage(app);
    else if (page === 'training') await trainingPage(app);
    else if (page === 'history') await historyPage(app);
    else await chatPage(app, arg);
  } catch (e) {
    app.append(h('p', { class: 'error' }, `Could not load this page: ${(e as Error).message}`));
  }
}

window.addEventListener('hashchange', () => void route());
void info().then((i) => {
  status.textContent = `v${i.version} · ${i.models.map((m) => m.id).join(', ') || 'no models'}${i.auth ? ' · API keys on' : ' · loopback, no keys'}${i.encrypt_history ? ' · history encrypted' : ''}`;
}).catch(() => { status.textContent = 'server unreachable'; });
void route();
