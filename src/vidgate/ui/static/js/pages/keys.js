import { flash } from '../lib.js';
flash('This page is being built.');
