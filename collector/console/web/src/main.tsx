/** The console's entry point (collector/console/web/index.html loads it). */
import { render } from 'preact';
import { App } from './app.tsx';
import './styles.css';

render(<App />, document.getElementById('app')!);
