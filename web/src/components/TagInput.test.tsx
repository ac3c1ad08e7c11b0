import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { mockClient } from '../test/mockClient';
import { renderWithClient } from '../test/render';
import { TagInput } from './TagInput';

const TAGS = { tags: [{ __typename: 'Tag', id: 'g1', name: 'work', openTaskCount: 3 }] };

function Harness({ onSubmit }: { onSubmit: () => void }) {
  const [tags, setTags] = useState<string[]>([]);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <TagInput value={tags} onChange={setTags} />
      <output data-testid="tags">{tags.join(',')}</output>
    </form>
  );
}

async function setup() {
  const { client } = mockClient((name) => (name === 'Tags' ? { data: TAGS } : { data: null }));
  const onSubmit = vi.fn();
  renderWithClient(<Harness onSubmit={onSubmit} />, client);
  // Wait for the known tags to arrive, so "work" is a suggestion.
  await waitFor(() => expect(document.querySelector('datalist option[value="work"]')).not.toBeNull());
  return { onSubmit, box: screen.getByLabelText('Add a tag') };
}

describe('TagInput', () => {
  it('typing "workshop" with an existing tag "work" adds #workshop, not #work', async () => {
    const { box } = await setup();
    await userEvent.type(box, 'workshop');
    expect(screen.getByTestId('tags').textContent).toBe('');
    expect((box as HTMLInputElement).value).toBe('workshop');
    await userEvent.keyboard('{Enter}');
    expect(screen.getByTestId('tags').textContent).toBe('workshop');
  });

  it('Enter in the tag box never submits the form, even right after a tag was added', async () => {
    const { box, onSubmit } = await setup();
    await userEvent.type(box, 'home{Enter}');
    expect(screen.getByTestId('tags').textContent).toBe('home');
    await userEvent.keyboard('{Enter}');
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('choosing a suggestion (not typed) adds it at once', async () => {
    const { box } = await setup();
    // A datalist pick fires a plain input event with no inputType.
    fireEvent.input(box, { target: { value: 'work' } });
    expect(screen.getByTestId('tags').textContent).toBe('work');
  });
});
