import { describe, expect, it } from 'vitest';
import type { ProjectFieldsFragment } from '../gql/graphql';
import { applyProjectEvent, moveInList, projectNotice } from './projectEvents';

const project = (id: string, version: number, name = `P ${id}`): ProjectFieldsFragment => ({
  __typename: 'Project',
  id,
  name,
  color: null,
  archived: false,
  myRole: 'EDITOR',
  version,
  openTaskCount: 0,
  createdAt: '2026-12-01T10:00:00+00:00',
});

describe('applyProjectEvent', () => {
  const list = [project('a', 1), project('b', 3)];
  it('drops a project the caller no longer sees', () => {
    expect(applyProjectEvent(list, { kind: 'MEMBER_REMOVED', projectId: 'a', project: null }).map((p) => p.id)).toEqual(['b']);
    expect(applyProjectEvent(list, { kind: 'DELETED', projectId: 'b', project: null }).map((p) => p.id)).toEqual(['a']);
  });
  it('keeps everything for an invitation to the caller', () => {
    expect(applyProjectEvent(list, { kind: 'INVITED', projectId: 'z', project: null })).toEqual(list);
  });
  it('replaces with a newer version, adds a new project, ignores an older one', () => {
    const renamed = applyProjectEvent(list, { kind: 'UPDATED', projectId: 'a', project: project('a', 2, 'Renamed') });
    expect(renamed.find((p) => p.id === 'a')?.name).toBe('Renamed');
    // In its place: the list is the caller's own order.
    expect(renamed.map((p) => p.id)).toEqual(['a', 'b']);
    expect(applyProjectEvent(list, { kind: 'MEMBER_ADDED', projectId: 'c', project: project('c', 1) }).map((p) => p.id)).toEqual(['a', 'b', 'c']);
    const stale = applyProjectEvent(list, { kind: 'UPDATED', projectId: 'b', project: project('b', 2, 'Old') });
    expect(stale.find((p) => p.id === 'b')?.name).toBe('P b');
  });
});

describe('moveInList', () => {
  const ids = (l: { id: string }[]) => l.map((p) => p.id);
  const list = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
  it('places after afterId, else before beforeId, else last, as moveProject does', () => {
    expect(ids(moveInList(list, 'd', 'a', 'b'))).toEqual(['a', 'd', 'b', 'c']);
    expect(ids(moveInList(list, 'a', 'c', null))).toEqual(['b', 'c', 'a', 'd']);
    expect(ids(moveInList(list, 'd', null, 'a'))).toEqual(['d', 'a', 'b', 'c']);
    expect(ids(moveInList(list, 'b', null, null))).toEqual(['a', 'c', 'd', 'b']);
  });
  it('leaves the list as it is for an unknown project', () => {
    expect(ids(moveInList(list, 'z', 'a', null))).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('projectNotice', () => {
  it('says what happened in words', () => {
    expect(projectNotice('MEMBER_REMOVED', 'Launch')).toBe('You were removed from the project “Launch”; its tasks are gone from your lists.');
    expect(projectNotice('DELETED', 'Launch')).toBe('The project “Launch” was deleted; its tasks are gone from your lists.');
  });
});
