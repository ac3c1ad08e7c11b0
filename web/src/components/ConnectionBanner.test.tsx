import { act, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { setConnectionState } from '../lib/connection';
import { ConnectionBanner } from './ConnectionBanner';

describe('ConnectionBanner', () => {
  it('shows reconnecting while the socket is down and confirms when it is back', () => {
    act(() => setConnectionState('connected'));
    render(<ConnectionBanner />);
    expect(screen.queryByTestId('connection-banner')).toBeNull();
    act(() => setConnectionState('reconnecting'));
    expect(screen.getByTestId('connection-banner').textContent).toMatch('reconnecting…');
    act(() => setConnectionState('connected'));
    expect(screen.getByTestId('connection-banner').textContent).toMatch('Back online');
    expect(screen.getByRole('status')).toBeTruthy();
  });
});
