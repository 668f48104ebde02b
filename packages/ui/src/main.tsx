/** Entry point: takes the token from the address, then renders the app. */
import { render } from 'preact';
import { adoptTokenFromLocation } from './api.ts';
import { App } from './app.tsx';
import './styles.css';

render(<App initialToken={adoptTokenFromLocation()} />, document.getElementById('app')!);
