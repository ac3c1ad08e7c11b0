import { createContext, useContext } from 'react';
import type { MeQuery } from '../gql/graphql';

export type Me = MeQuery['me'];
export const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside a session');
  return me;
}
