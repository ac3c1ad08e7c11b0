import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { Provider } from 'urql';
import type { Client } from '@urql/core';
import { MeContext } from '../components/MeContext';
import { ToastProvider } from '../components/Toast';
import { ME } from './mockClient';

export function renderWithClient(ui: ReactElement, client: Client) {
  return render(
    <ToastProvider>
      <Provider value={client}>
        <MeContext.Provider value={ME}>{ui}</MeContext.Provider>
      </Provider>
    </ToastProvider>,
  );
}
